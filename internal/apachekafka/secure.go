package apachekafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/nerstream/nerstream/internal/testcert"
)

// Secure is a cluster with two client listeners beside PLAINTEXT, both with
// certificates of its own test CA (PEM files, ssl.keystore.type=PEM):
//   - SSL: mutual TLS;
//   - SASL_SSL: mutual TLS and SASL/SCRAM, with one user for SCRAM-SHA-256
//     and SCRAM-SHA-512 created when the storage is formatted
//     (kafka-storage format --add-scram).
//
// Both require a client certificate signed by the CA (ssl.client.auth=required,
// which SASL_SSL honours only with its listener prefix).
//
// PLAINTEXT stays open on Addrs for the brokers themselves and for tests
// that create topics.
type Secure struct {
	*Cluster
	CA     *testcert.CA  // signs the brokers' and the clients' certificates
	Client testcert.Pair // a client certificate the SSL listener accepts

	User, Password string // the SCRAM user (both mechanisms)
}

// The extra listeners of a [Secure] cluster, in the script's port order.
var secureListeners = []string{"SSL", "SASL_SSL"}

// SSLAddrs returns the brokers' mutual-TLS addresses.
func (s *Secure) SSLAddrs() []string { return s.listenerAddrs(0) }

// SASLSSLAddrs returns the brokers' SASL/SCRAM over TLS addresses.
func (s *Secure) SASLSSLAddrs() []string { return s.listenerAddrs(1) }

// listenerAddrs returns the addresses of extra listener k (0-based): node
// i's is Port+(k+2)*Nodes+i-1 (scripts/apache-kafka.sh).
func (s *Secure) listenerAddrs(k int) []string {
	out := make([]string, s.Nodes)
	for i := range out {
		out[i] = "127.0.0.1:" + strconv.Itoa(s.Port+(k+2)*s.Nodes+i)
	}
	return out
}

// StartSecure starts a [Secure] cluster of nodes nodes under dir, its CA
// and certificates in dir/certs. extraConfig lines are added to every
// node's server.properties.
func StartSecure(ctx context.Context, dir string, nodes int, extraConfig ...string) (*Secure, error) {
	certs := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		return nil, fmt.Errorf("apachekafka: %w", err)
	}
	ca, err := testcert.NewCA(certs, "ca")
	if err != nil {
		return nil, err
	}
	srv, err := ca.Server("broker")
	if err != nil {
		return nil, err
	}
	cli, err := ca.Client("nerstream-client")
	if err != nil {
		return nil, err
	}
	// A PEM key store is one file: the private key, then the certificate.
	keyPEM, err := os.ReadFile(srv.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("apachekafka: %w", err)
	}
	certPEM, err := os.ReadFile(srv.CertFile)
	if err != nil {
		return nil, fmt.Errorf("apachekafka: %w", err)
	}
	keystore := filepath.Join(certs, "broker.pem")
	if err := os.WriteFile(keystore, append(keyPEM, certPEM...), 0o600); err != nil {
		return nil, fmt.Errorf("apachekafka: %w", err)
	}
	pw := make([]byte, 12)
	if _, err := rand.Read(pw); err != nil {
		return nil, err
	}
	s := &Secure{CA: ca, Client: cli, User: "nerstream", Password: "scram-" + hex.EncodeToString(pw)}
	const scramModule = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
	config := append([]string{
		"ssl.keystore.type=PEM",
		"ssl.keystore.location=" + keystore,
		"ssl.truststore.type=PEM",
		"ssl.truststore.location=" + ca.CertFile,
		"ssl.client.auth=required",
		// SASL_SSL listeners ignore the unprefixed setting (KIP-684).
		"listener.name.sasl_ssl.ssl.client.auth=required",
		"listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512",
		"listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=" + scramModule,
		"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=" + scramModule,
	}, extraConfig...)
	env := []string{
		"APACHE_KAFKA_LISTENERS=SSL SASL_SSL",
		fmt.Sprintf("APACHE_KAFKA_SCRAM=SCRAM-SHA-256=[name=%s,password=%s]\nSCRAM-SHA-512=[name=%[1]s,password=%[2]s]", s.User, s.Password),
	}
	c, err := start(ctx, filepath.Join(dir, "cluster"), nodes, len(secureListeners), env, config)
	if err != nil {
		return nil, err
	}
	s.Cluster = c
	return s, nil
}

var (
	secureMu   sync.Mutex
	secure     *Secure
	secureErr  error
	secureDir  string
	secureDone bool
)

// SharedSecure returns this process's single-node [Secure] cluster,
// starting it on first use; like [Shared], a second JVM for the whole test
// binary, stopped by [StopShared].
func SharedSecure(t testing.TB) *Secure {
	t.Helper()
	if testing.Short() {
		t.Skip("Apache Kafka tests skipped in -short mode")
	}
	secureMu.Lock()
	defer secureMu.Unlock()
	if secure == nil && secureErr == nil {
		if secureDone {
			secureErr = errors.New("apachekafka: SharedSecure called after StopShared")
		} else {
			secureDir, secureErr = os.MkdirTemp("", "nerstream-apache-kafka-secure-")
			if secureErr == nil {
				secure, secureErr = StartSecure(context.Background(), secureDir, 1)
			}
			if secureErr == nil {
				t.Logf("Apache Kafka %s with TLS and SASL/SCRAM listeners started at %s (SSL %s, SASL_SSL %s) in %.1fs (logs in %s)",
					secure.Version(), secure.Addrs()[0], secure.SSLAddrs()[0], secure.SASLSSLAddrs()[0], secure.StartTime.Seconds(), secure.Dir)
			}
		}
	}
	if secureErr != nil {
		t.Fatalf("%v\n(run `make setup` for Java, Maven and the Kafka jars)", secureErr)
	}
	return secure
}

// stopSharedSecure stops the shared secure cluster, if one was started,
// and removes its directory unless keepLogs.
func stopSharedSecure(keepLogs bool) error {
	secureMu.Lock()
	defer secureMu.Unlock()
	secureDone = true
	var err error
	if secure != nil {
		err = secure.Stop()
	}
	if secureDir != "" && !keepLogs {
		os.RemoveAll(secureDir)
	}
	return err
}
