// Command mongo-front runs an embedded FerretDB 1.24 (SQLite backend) on a Unix socket and
// serves a TCP front that proxies the MongoDB wire protocol to it.
//
// Why the front exists: FerretDB 1.24 applies update/findAndModify as an unlocked
// read-modify-write in Go (FerretDB issue #3040), so two concurrent guarded updates can both
// win and concurrent $inc can lose updates. paycore relies on MongoDB's single-document
// atomicity, so the front serializes write commands per database (see proxy.go). Reads pass
// through untouched.
//
// Local runs and CI only; never production.
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/build/version"
	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", env("MONGO_FRONT_LISTEN", "127.0.0.1:27017"), "TCP address of the front")
	socket := flag.String("socket", env("MONGO_FRONT_SOCKET", "var/mongo/ferretdb.sock"), "Unix socket FerretDB listens on")
	dataDir := flag.String("data", env("MONGO_FRONT_DATA", "var/mongo/data"), "SQLite data directory (one file per database)")
	fdbLevel := flag.String("ferretdb-log-level", env("MONGO_FRONT_FERRETDB_LOG_LEVEL", "error"), "FerretDB log level: debug|info|warn|error")
	serialize := flag.Bool("serialize", env("MONGO_FRONT_SERIALIZE", "true") == "true", "serialize write commands per database (false only to demonstrate the race)")
	pprofAddr := flag.String("pprof", env("MONGO_FRONT_PPROF", ""), "serve net/http/pprof on this address, e.g. 127.0.0.1:6060 (off when empty)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("name", "mongo-front")
	// FerretDB allocates several copies of every document it reads or writes (BSON, types,
	// SJSON): with Go's default GOGC=100 the collector took ~12 % of the CPU. The live heap is
	// tens of MiB, so collecting 4x less often costs little memory. GOGC, if set, still wins.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
	if *pprofAddr != "" {
		servePprof(log, *pprofAddr)
	}
	if err := run(log, *listen, *socket, *dataDir, *fdbLevel, *serialize); err != nil {
		log.Error("fatal", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, listen, socket, dataDir, fdbLevel string, serialize bool) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(fdbLevel)); err != nil {
		return err
	}
	// FerretDB logs every connection at info and every failed reply at warn: keep it quiet.
	// lazyHandler: FerretDB calls Logger.With(args) before every SQL query's debug line, and the
	// text handler would format those args (the whole document) even with debug off.
	fdbLog := slog.New(&lazyHandler{inner: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})}).With("name", "ferretdb")
	slog.SetDefault(fdbLog) // for any FerretDB code that logs via the default logger

	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	if err = os.MkdirAll(dataDir, 0o755); err != nil { // FerretDB requires it to exist
		return err
	}
	// A stale socket from a killed run would make the Unix listener fail with EADDRINUSE.
	if err = os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}

	// The embedded package leaves telemetry disabled and has no state dir or debug handler.
	// Using it (rather than `go install .../cmd/ferretdb`) also skips the version.txt check
	// that panics when FerretDB itself is the main module (FerretDB issue #2982).
	fdb, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{Unix: socket},
		Logger:   fdbLog,
		Handler:  "sqlite",
		// The path must end in '/'. FerretDB adds WAL mode; synchronous=normal drops the fsync
		// per commit (WAL stays consistent; a power loss may lose the last commits, never a
		// process crash): a local server, and each write holds its database's lock meanwhile.
		SQLiteURL: "file:" + strings.TrimSuffix(dataDir, "/") + "/?_pragma=synchronous(normal)",
	})
	if err != nil {
		return err
	}

	// Embedded builds report ferretdbVersion "unknown"; report the module version instead.
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path == "github.com/FerretDB/FerretDB" {
				version.Get().Version = dep.Version
			}
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	fdbDone := make(chan struct{})
	go func() {
		defer close(fdbDone)
		_ = fdb.Run(ctx)
	}()

	// New() already bound the socket; check it accepts before opening the front, so that
	// "port 27017 answers" means "the whole thing is ready".
	if err = waitUnix(ctx, socket, 10*time.Second); err != nil {
		stop()
		<-fdbDone
		return err
	}

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		stop()
		<-fdbDone
		return err
	}
	log.Info("listening", "tcp", ln.Addr().String(), "ferretdb_socket", socket, "data", dataDir, "serialize", serialize)

	p := &proxy{log: log, backend: socket, serialize: serialize}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	p.serve(ln)

	<-fdbDone // FerretDB closes its connections and the SQLite pools on cancel
	log.Info("stopped")
	return nil
}

// servePprof serves the Go profiler (net/http/pprof registers on the default mux) for
// `go tool pprof http://ADDR/debug/pprof/profile?seconds=30`. Opt-in: profiling only.
func servePprof(log *slog.Logger, addr string) {
	go func() {
		log.Info("pprof", "addr", addr)
		if err := http.ListenAndServe(addr, nil); err != nil {
			log.Error("pprof", "err", err)
		}
	}()
}

func waitUnix(ctx context.Context, path string, budget time.Duration) error {
	deadline := time.Now().Add(budget)
	for {
		c, err := net.Dial("unix", path)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}
