package queue

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/nerstream/nerstream/internal/testcert"
)

// TestMutualTLS runs publish/consume round trips against kfake requiring
// client certificates signed by a test CA (alone and combined with each SASL
// mechanism), and checks that a client without a certificate, or with one
// from another CA, is refused quickly with the broker named.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, err := testcert.NewCA(dir, "kafka-ca")
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := testcert.NewCA(dir, "rogue-ca")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Server("broker")
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.Client("nerstream-worker")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := rogue.Client("stranger")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, kfakeMech, mech string
	}{
		{"client certificate only", "", ""},
		{"plain", "PLAIN", SASLPlain},
		{"scram-sha-256", "SCRAM-SHA-256", SASLScramSHA256},
		{"scram-sha-512", "SCRAM-SHA-512", SASLScramSHA512},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := []kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100 * time.Millisecond),
				kfake.TLS(testcert.ServerTLS(srv, ca))}
			if tc.kfakeMech != "" {
				opts = append(opts, kfake.EnableSASL(), kfake.Superuser(tc.kfakeMech, "nerstream", "mtls-s3cret"))
			}
			c, err := kfake.NewCluster(opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cfg := Config{Brokers: c.ListenAddrs(), TLSCAFile: ca.CertFile, TLSCertFile: client.CertFile, TLSKeyFile: client.KeyFile,
				DialTimeout: 3 * time.Second}
			if tc.mech != "" {
				cfg.SASLMechanism, cfg.SASLUsername, cfg.SASLPassword = tc.mech, "nerstream", "mtls-s3cret"
			}
			ctx := context.Background()
			pub, err := NewPublisher(ctx, nil, "mtls", WithConfig(cfg), WithPartitions(2), WithLogger(quietLogger))
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			publishN(t, pub, 8, "mtls")
			g, err := NewGroup(nil, "mtls", "mtls", fastGroup(WithConfig(cfg))...)
			if err != nil {
				t.Fatal(err)
			}
			h := newRecHandler("mtls")
			h.commit = true
			stop := runGroup(t, g, h)
			waitFor(t, 15*time.Second, "8 records over mutual TLS", func() bool { return h.total() == 8 })
			if err := stop(); err != nil {
				t.Fatal(err)
			}

			for _, bad := range []struct {
				name       string
				cert, key  string
				wantBroker bool
			}{
				{"no client certificate", "", "", true},
				{"certificate of another CA", stranger.CertFile, stranger.KeyFile, true},
			} {
				bc := cfg
				bc.TLSCertFile, bc.TLSKeyFile = bad.cert, bad.key
				start := time.Now()
				_, err := NewPublisher(ctx, nil, "mtls", WithConfig(bc), WithLogger(quietLogger))
				if err == nil || !strings.Contains(err.Error(), cfg.Brokers[0]) {
					t.Fatalf("%s: err = %v, want an error naming %s", bad.name, err, cfg.Brokers[0])
				}
				if took := time.Since(start); took > 5*time.Second {
					t.Errorf("%s: took %v to fail", bad.name, took)
				}
				t.Logf("%s: %v", bad.name, err)
			}
		})
	}
}
