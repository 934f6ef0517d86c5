// Command pstest serves Google's in-memory Pub/Sub fake (cloud.google.com/go/pubsub/v2/pstest) on a
// loopback gRPC port, so Bifrost's integration tests can run the Google Cloud connector against it
// the way they would against the official emulator (PUBSUB_EMULATOR_HOST=127.0.0.1:<port>).
//
// Usage: pstest -port 8085 [-host 127.0.0.1]
// It prints "pstest listening on <addr>" once the port is open and stops on SIGINT/SIGTERM.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"cloud.google.com/go/pubsub/v2/pstest"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on (loopback only in tests)")
	port := flag.Int("port", 8085, "TCP port to listen on")
	flag.Parse()

	srv := pstest.NewServerWithAddress(net.JoinHostPort(*host, strconv.Itoa(*port)))
	fmt.Printf("pstest listening on %s\n", srv.Addr)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	if err := srv.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "pstest: close: %v\n", err)
		os.Exit(1)
	}
}
