// A test peer for tlsaudit's probe tests: Go's crypto/tls with its defaults (TLS 1.2 and 1.3,
// X25519MLKEM768, SecP256r1MLKEM768 and SecP384r1MLKEM1024 first since Go 1.26) behind net/http,
// which negotiates h2 and http/1.1 through ALPN. Listens on 127.0.0.1 on a free port and prints
// "listening ADDR" once ready; every response is 200 with the optional HSTS header.
//
// Built by the tests with `go build` (standard library only, no go.mod needed).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
)

func main() {
	cert := flag.String("cert", "", "PEM certificate chain")
	key := flag.String("key", "", "PEM private key")
	hsts := flag.String("hsts", "", "Strict-Transport-Security value to send (empty: none)")
	flag.Parse()

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *hsts != "" {
			w.Header().Set("Strict-Transport-Security", *hsts)
		}
		fmt.Fprintf(w, "ok %s\n", r.Proto)
	})
	server := &http.Server{Handler: handler, ErrorLog: log.New(os.Stderr, "", 0)}
	fmt.Printf("listening %s\n", listener.Addr())
	os.Stdout.Sync()
	log.Fatal(server.ServeTLS(listener, *cert, *key))
}
