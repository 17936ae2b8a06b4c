// nodetools: the one static binary in the real node's own image (tests/realnode/node_images.py). It is the pod
// sandbox ("pause") and the probe the node's test runs inside pods, so the node needs no base image or registry.
//
//	nodetools pause          sleep until SIGTERM/SIGINT (the sandbox container of every pod)
//	nodetools serve ADDR     HTTP on ADDR: /healthz answers 200 (readiness probes), / says which pod answered
//	nodetools get URL        GET URL with the pod's ServiceAccount token and CA (in-cluster config); exit 1 unless 200
//	nodetools fetch URL      plain HTTP GET; prints the body; exit 1 unless 200
//	nodetools resolve NAME   resolve NAME through the pod's /etc/resolv.conf (cluster DNS) and print the addresses
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const serviceAccount = "/var/run/secrets/kubernetes.io/serviceaccount"

func main() {
	if len(os.Args) < 2 {
		fail("usage: nodetools pause | serve ADDR | get URL | fetch URL | resolve NAME")
	}
	switch command := os.Args[1]; {
	case command == "pause":
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
		<-signals
	case command == "serve" && len(os.Args) == 3:
		serve(os.Args[2])
	case command == "get" && len(os.Args) == 3:
		get(os.Args[2], inCluster())
	case command == "fetch" && len(os.Args) == 3:
		// Short: a connection that a Service's stale address swallowed is retried by the caller sooner.
		get(os.Args[2], &http.Client{Timeout: 3 * time.Second})
	case command == "resolve" && len(os.Args) == 3:
		addresses, err := net.LookupHost(os.Args[2])
		if err != nil {
			fail(err.Error())
		}
		fmt.Println(addresses)
	default:
		fail("unknown command line: " + fmt.Sprint(os.Args[1:]))
	}
}

func serve(address string) {
	host, _ := os.Hostname()
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "served by %s\n", host) })
	fmt.Printf("nodetools serving on %s in %s\n", address, host)
	fail(http.ListenAndServe(address, nil).Error())
}

// inCluster is what client libraries do with the pod's ServiceAccount: its CA, and its token as a bearer token.
func inCluster() *http.Client {
	ca, err := os.ReadFile(serviceAccount + "/ca.crt")
	if err != nil {
		fail(err.Error())
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		fail("no certificate in " + serviceAccount + "/ca.crt")
	}
	token, err := os.ReadFile(serviceAccount + "/token")
	if err != nil {
		fail(err.Error())
	}
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	return &http.Client{Timeout: 10 * time.Second, Transport: bearer{string(token), transport}}
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(request *http.Request) (*http.Response, error) {
	request = request.Clone(request.Context())
	request.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(request)
}

func get(url string, client *http.Client) {
	response, err := client.Get(url)
	if err != nil {
		fail(err.Error())
	}
	defer response.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(response.Body, 1<<16))
	fmt.Printf("%d\n%s\n", response.StatusCode, body)
	if response.StatusCode != http.StatusOK {
		os.Exit(1)
	}
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, message)
	os.Exit(1)
}
