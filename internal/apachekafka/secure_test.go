package apachekafka_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nerstream/nerstream/internal/apachekafka"
	"github.com/nerstream/nerstream/internal/queue"
)

// TestSecureListeners: the product's publisher reaches the secure cluster
// over mutual TLS and over SASL/SCRAM with mutual TLS (both hashes); without
// a client certificate, with a wrong SCRAM password or an unknown user, it
// fails with an error that names the broker.
func TestSecureListeners(t *testing.T) {
	s := apachekafka.SharedSecure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.CreateTopic(ctx, "secure", 1); err != nil {
		t.Fatal(err)
	}
	mtls := queue.Config{Brokers: s.SSLAddrs(), TLSCAFile: s.CA.CertFile, TLSCertFile: s.Client.CertFile, TLSKeyFile: s.Client.KeyFile,
		DialTimeout: 5 * time.Second}
	scram := func(mech, password string) queue.Config {
		return queue.Config{Brokers: s.SASLSSLAddrs(), TLSCAFile: s.CA.CertFile, TLSCertFile: s.Client.CertFile,
			TLSKeyFile: s.Client.KeyFile, SASLMechanism: mech, SASLUsername: s.User,
			SASLPassword: password, DialTimeout: 5 * time.Second}
	}
	publish := func(cfg queue.Config) error {
		pub, err := queue.NewPublisher(ctx, nil, "secure", queue.WithConfig(cfg))
		if err != nil {
			return err
		}
		defer pub.Close()
		return pub.Publish(ctx, queue.Message{Key: []byte("k"), Value: []byte("v")})
	}
	for name, cfg := range map[string]queue.Config{
		"mutual TLS":    mtls,
		"SCRAM-SHA-256": scram(queue.SASLScramSHA256, s.Password),
		"SCRAM-SHA-512": scram(queue.SASLScramSHA512, s.Password),
	} {
		if err := publish(cfg); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	noCert := mtls
	noCert.TLSCertFile, noCert.TLSKeyFile = "", ""
	scramNoCert := scram(queue.SASLScramSHA512, s.Password)
	scramNoCert.TLSCertFile, scramNoCert.TLSKeyFile = "", ""
	for name, cfg := range map[string]queue.Config{
		"no client certificate":            noCert,
		"SCRAM without client certificate": scramNoCert,
		"wrong SCRAM password":             scram(queue.SASLScramSHA512, "wrong-"+s.Password),
		"unknown SCRAM user": func() queue.Config {
			c := scram(queue.SASLScramSHA256, s.Password)
			c.SASLUsername = "mallory"
			return c
		}(),
	} {
		err := publish(cfg)
		if err == nil || !strings.Contains(err.Error(), cfg.Brokers[0]) {
			t.Errorf("%s: err %v, want a failure naming %s", name, err, cfg.Brokers[0])
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
