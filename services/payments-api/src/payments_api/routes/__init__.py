"""HTTP routes: parse, call the domain, shape the answer."""
