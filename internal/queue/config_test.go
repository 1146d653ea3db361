package queue

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nerstream/nerstream/internal/config"
	"github.com/twmb/franz-go/pkg/kfake"
)

func lookupMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// configFromLookup is what every command does: register the Kafka flags,
// parse args then the NERSTREAM_* environment twins, validate.
func configFromLookup(lookup func(string) (string, bool), args ...string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterFlags(fs)
	if err := config.ParseLookup(fs, args, lookup); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func TestConfigFromEnvTwins(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{"empty", nil, Config{}, ""},
		{"full", map[string]string{
			EnvBrokers: " k1:9092, ,k2:9093 ", EnvClientID: "w1", EnvTLS: "true", EnvTLSCA: "/ca.pem",
			EnvTLSCert: "/c.pem", EnvTLSKey: "/k.pem", EnvTLSInsecure: "0",
			EnvSASLMechanism: "SCRAM-SHA-512", EnvSASLUsername: "u", EnvSASLPassword: " p w ",
		}, Config{
			Brokers: []string{"k1:9092", "k2:9093"}, ClientID: "w1", TLS: true, TLSCAFile: "/ca.pem",
			TLSCertFile: "/c.pem", TLSKeyFile: "/k.pem", SASLMechanism: "SCRAM-SHA-512", SASLUsername: "u", SASLPassword: " p w ",
		}, ""},
		{"bad bool", map[string]string{EnvTLS: "yes please"}, Config{}, EnvTLS},
		{"unknown mechanism", map[string]string{EnvSASLMechanism: "gssapi", EnvSASLUsername: "u"}, Config{}, `"gssapi"`},
		{"mechanism without user", map[string]string{EnvSASLMechanism: "plain"}, Config{}, "needs a username"},
		{"user without mechanism", map[string]string{EnvSASLUsername: "u"}, Config{}, "without a SASL mechanism"},
		{"cert without key", map[string]string{EnvTLSCert: "/c.pem"}, Config{}, "must be set together"},
		{"broker without port", map[string]string{EnvBrokers: "kafka"}, Config{}, `"kafka"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := configFromLookup(lookupMap(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestRegisterFlagsOverrideEnv(t *testing.T) {
	cfg, err := configFromLookup(lookupMap(map[string]string{EnvBrokers: "env:1", EnvClientID: "from-env", EnvSASLMechanism: "plain", EnvSASLUsername: "u"}),
		"-brokers", "a:1,b:2", "-kafka-tls-ca", "/ca", "-kafka-sasl-password", "secret")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Brokers: []string{"a:1", "b:2"}, ClientID: "from-env", TLSCAFile: "/ca", SASLMechanism: "plain", SASLUsername: "u", SASLPassword: "secret"}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
}

// TestEnvConstantsAreFlagTwins: the Env* names used by the deployment
// manifests are exactly the environment twins of the registered flags.
func TestEnvConstantsAreFlagTwins(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	c.RegisterFlags(fs)
	twins := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { twins[config.EnvName(f.Name)] = true })
	for _, env := range []string{EnvBrokers, EnvClientID, EnvTLS, EnvTLSCA, EnvTLSCert, EnvTLSKey, EnvTLSInsecure, EnvSASLMechanism, EnvSASLUsername, EnvSASLPassword} {
		if !twins[env] {
			t.Errorf("%s is not the environment twin of any Kafka flag", env)
		}
	}
	if len(twins) != 10 {
		t.Errorf("%d Kafka flags, want 10 (one per Env* constant)", len(twins))
	}
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"missing CA", Config{TLSCAFile: filepath.Join(dir, "nope.pem")}, "nope.pem"},
		{"CA not PEM", Config{TLSCAFile: notPEM}, "no PEM certificates"},
		{"missing cert", Config{TLSCertFile: filepath.Join(dir, "c.pem"), TLSKeyFile: filepath.Join(dir, "k.pem")}, "c.pem"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.TLSConfig()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	if tc, err := (Config{}).TLSConfig(); tc != nil || err != nil {
		t.Fatalf("TLS off: got %v, %v", tc, err)
	}
	if tc, err := (Config{TLS: true}).TLSConfig(); tc == nil || err != nil {
		t.Fatalf("TLS on with system roots: got %v, %v", tc, err)
	}
}

// TestSecureCluster runs a publish/consume round trip against kfake with
// TLS (CA file) and each SASL mechanism, and checks that a wrong password
// fails fast with the broker named.
func TestSecureCluster(t *testing.T) {
	caFile, serverTLS := selfSignedTLS(t)
	tests := []struct {
		name, kfakeMech, mech string
		tls                   bool
	}{
		{"plain over TLS", "PLAIN", SASLPlain, true},
		{"scram-sha-256", "SCRAM-SHA-256", SASLScramSHA256, false},
		{"scram-sha-512 over TLS", "SCRAM-SHA-512", SASLScramSHA512, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := []kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100 * time.Millisecond),
				kfake.EnableSASL(), kfake.Superuser(tc.kfakeMech, "nerstream", "s3cret")}
			if tc.tls {
				opts = append(opts, kfake.TLS(serverTLS))
			}
			c, err := kfake.NewCluster(opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cfg := Config{Brokers: c.ListenAddrs(), SASLMechanism: tc.mech, SASLUsername: "nerstream", SASLPassword: "s3cret", DialTimeout: 3 * time.Second}
			if tc.tls {
				cfg.TLSCAFile = caFile
			}
			ctx := context.Background()
			pub, err := NewPublisher(ctx, nil, "sec", WithConfig(cfg), WithPartitions(2), WithLogger(quietLogger))
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			publishN(t, pub, 10, "sec")
			g, err := NewGroup(nil, "sec", "sec", fastGroup(WithConfig(cfg))...)
			if err != nil {
				t.Fatal(err)
			}
			h := newRecHandler("sec")
			h.commit = true
			stop := runGroup(t, g, h)
			waitFor(t, 15*time.Second, "10 records over "+tc.name, func() bool { return h.total() == 10 })
			if err := stop(); err != nil {
				t.Fatal(err)
			}

			bad := cfg
			bad.SASLPassword = "wrong"
			start := time.Now()
			_, err = NewPublisher(ctx, nil, "sec", WithConfig(bad), WithLogger(quietLogger))
			if err == nil || !strings.Contains(err.Error(), cfg.Brokers[0]) {
				t.Fatalf("wrong password: err = %v, want an error naming %s", err, cfg.Brokers[0])
			}
			t.Logf("wrong password: %v", err)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("wrong password took %v to fail", took)
			}
		})
	}
}

// selfSignedTLS writes a self-signed CA/server certificate for 127.0.0.1 and
// returns the CA file and the server TLS config.
func selfSignedTLS(t *testing.T) (string, *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
}

func FuzzConfigFromEnvTwins(f *testing.F) {
	f.Add("k:1,k2:2", "true", "plain", "u", "/ca")
	f.Add(",,", "", "", "", "")
	f.Add("[::1]:9092", "0", "SCRAM-SHA-256", "", "x")
	f.Fuzz(func(t *testing.T, brokers, tlsOn, mech, user, ca string) {
		cfg, err := configFromLookup(lookupMap(map[string]string{
			EnvBrokers: brokers, EnvTLS: tlsOn, EnvSASLMechanism: mech, EnvSASLUsername: user, EnvTLSCA: ca,
		}))
		if err != nil {
			return
		}
		if cfg.Validate() != nil {
			t.Fatalf("the environment gave a config that fails Validate: %+v", cfg)
		}
		for _, b := range cfg.Brokers {
			if b == "" || strings.Contains(b, ",") || strings.TrimSpace(b) != b {
				t.Fatalf("broker %q not split/trimmed from %q", b, brokers)
			}
		}
		if _, err := cfg.SASL(); err != nil && !strings.HasPrefix(strings.ToLower(cfg.SASLMechanism), "scram") {
			t.Fatalf("validated mechanism %q fails: %v", cfg.SASLMechanism, err)
		}
	})
}
