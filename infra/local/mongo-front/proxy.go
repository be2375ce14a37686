package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/x/bsonx/bsoncore"
)

// Wire protocol constants (https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/).
const (
	headerLen      = 16
	maxMessageSize = 48_000_000 // MongoDB's maxMessageSizeBytes
	opMsg          = 2013

	flagChecksumPresent = 1 << 0
	flagMoreToCome      = 1 << 1
)

// writeCommands are the commands FerretDB implements as unlocked read-modify-write or that
// change metadata; they run one at a time per database. Keys are lower case.
var writeCommands = map[string]bool{
	"insert": true, "update": true, "delete": true, "findandmodify": true,
	"createindexes": true, "dropindexes": true, "create": true, "drop": true,
	"dropdatabase": true, "renamecollection": true,
}

// noWait is stored in conn.awaiting while no write is waiting for its reply.
const noWait = int64(-1) << 40

// moreToComeWait bounds how long a fire-and-forget write (w=0) holds its database lock:
// such a request expects no reply, so we must not wait forever for one. FerretDB 1.24 does
// reply anyway, so in practice the reply still releases the lock.
const moreToComeWait = 5 * time.Second

type proxy struct {
	log       *slog.Logger
	backend   string // FerretDB Unix socket
	serialize bool
	locks     sync.Map // database name -> *sync.Mutex
}

func (p *proxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			p.log.Warn("accept", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		go p.handle(c)
	}
}

func (p *proxy) lockFor(db string) *sync.Mutex {
	mu, _ := p.locks.LoadOrStore(db, new(sync.Mutex))
	return mu.(*sync.Mutex)
}

// handle pairs one client connection with one FerretDB connection (cursors live per
// connection in FerretDB, so the pairing must be 1:1 and fixed).
//
// Replies are copied backend -> client by a second goroutine, so whatever FerretDB sends
// (including replies it sends for moreToCome requests, and exhaust streams) reaches the
// client unchanged; the proxy never has to predict how many replies a request produces.
// A write command takes its database's lock and waits until that goroutine has read the
// reply whose responseTo matches the write's requestID.
func (p *proxy) handle(client net.Conn) {
	defer client.Close()
	backend, err := net.Dial("unix", p.backend)
	if err != nil {
		p.log.Error("dial ferretdb", "err", err)
		return
	}
	defer backend.Close()

	var awaiting atomic.Int64 // requestID of the write waiting for its reply, or noWait
	awaiting.Store(noWait)
	replied := make(chan struct{}, 1)
	backendGone := make(chan struct{})

	go func() {
		defer close(backendGone)
		defer client.Close() // unblocks the request loop if FerretDB dropped the connection
		r := bufio.NewReader(backend)
		for {
			msg, err := readMessage(r)
			if err != nil {
				return
			}
			// Release as soon as the reply is read in full: FerretDB has committed the write by
			// then, and a slow client must not hold other clients' writes back.
			if awaiting.CompareAndSwap(int64(responseTo(msg)), noWait) {
				replied <- struct{}{}
			}
			if _, err = client.Write(msg); err != nil {
				return
			}
		}
	}()

	r := bufio.NewReader(client)
	for {
		msg, err := readMessage(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				p.log.Warn("client read", "remote", client.RemoteAddr().String(), "err", err)
			}
			return
		}
		name, db, moreToCome := command(msg)
		if !p.serialize || !writeCommands[strings.ToLower(name)] {
			if _, err = backend.Write(msg); err != nil {
				return
			}
			continue
		}

		mu := p.lockFor(db)
		mu.Lock()
		select { // drop a late signal left by a timed-out moreToCome write
		case <-replied:
		default:
		}
		awaiting.Store(int64(requestID(msg)))
		_, err = backend.Write(msg)
		if err == nil {
			err = waitReply(replied, backendGone, moreToCome)
		}
		awaiting.Store(noWait)
		mu.Unlock()
		if err != nil {
			return
		}
	}
}

func waitReply(replied, backendGone <-chan struct{}, moreToCome bool) error {
	var timeout <-chan time.Time
	if moreToCome {
		timeout = time.After(moreToComeWait)
	}
	select {
	case <-replied:
		return nil
	case <-timeout:
		return nil
	case <-backendGone:
		return net.ErrClosed
	}
}

// readMessage reads one whole wire message (header included).
func readMessage(r io.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := int32(binary.LittleEndian.Uint32(size[:]))
	if n < headerLen || n > maxMessageSize {
		return nil, fmt.Errorf("bad message length %d", n)
	}
	msg := make([]byte, n)
	copy(msg, size[:])
	if _, err := io.ReadFull(r, msg[4:]); err != nil {
		return nil, err
	}
	return msg, nil
}

func requestID(msg []byte) int32  { return int32(binary.LittleEndian.Uint32(msg[4:8])) }
func responseTo(msg []byte) int32 { return int32(binary.LittleEndian.Uint32(msg[8:12])) }

// command returns the command name (the body's first key) and database ($db) of an OP_MSG.
// Anything else (OP_QUERY handshakes, malformed messages) yields "" and passes unlocked.
// OP_COMPRESSED never occurs: FerretDB advertises no compressors, so clients don't compress.
func command(msg []byte) (name, db string, moreToCome bool) {
	if int32(binary.LittleEndian.Uint32(msg[12:16])) != opMsg || len(msg) < headerLen+5 {
		return "", "", false
	}
	flags := binary.LittleEndian.Uint32(msg[16:20])
	moreToCome = flags&flagMoreToCome != 0
	end := len(msg)
	if flags&flagChecksumPresent != 0 {
		end -= 4
	}
	// Sections: kind 0 is the command body (one BSON document); kind 1 is a document
	// sequence (int32 size including itself, identifier, documents), which we skip.
	for i := headerLen + 4; i+5 <= end; {
		kind := msg[i]
		size := int(int32(binary.LittleEndian.Uint32(msg[i+1 : i+5])))
		if size < 5 || i+1+size > end {
			return "", "", moreToCome
		}
		section := msg[i+1 : i+1+size]
		if kind == 0 {
			doc := bsoncore.Document(section)
			first, err := doc.IndexErr(0)
			if err != nil {
				return "", "", moreToCome
			}
			name = first.Key()
			db, _ = doc.Lookup("$db").StringValueOK()
			// renameCollection is sent to "admin"; lock the source namespace's database.
			if strings.EqualFold(name, "renameCollection") {
				if ns, ok := first.Value().StringValueOK(); ok {
					db, _, _ = strings.Cut(ns, ".")
				}
			}
			return name, db, moreToCome
		}
		i += 1 + size
	}
	return "", "", moreToCome
}
