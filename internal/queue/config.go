package queue

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Environment variable names shared by the producer, the worker and the
// deployment manifests: the environment twins (config.EnvName) of the flags
// [Config.RegisterFlags] registers, read by config.Parse.
const (
	EnvBrokers       = "NERSTREAM_BROKERS"              // comma-separated host:port list
	EnvClientID      = "NERSTREAM_KAFKA_CLIENT_ID"      // client id sent to the brokers
	EnvTLS           = "NERSTREAM_KAFKA_TLS"            // "true" enables TLS with the system roots
	EnvTLSCA         = "NERSTREAM_KAFKA_TLS_CA"         // PEM CA bundle file; implies TLS
	EnvTLSCert       = "NERSTREAM_KAFKA_TLS_CERT"       // PEM client certificate file (mutual TLS)
	EnvTLSKey        = "NERSTREAM_KAFKA_TLS_KEY"        // PEM client key file (mutual TLS)
	EnvTLSInsecure   = "NERSTREAM_KAFKA_TLS_INSECURE"   // "true" skips server certificate verification
	EnvSASLMechanism = "NERSTREAM_KAFKA_SASL_MECHANISM" // plain, scram-sha-256 or scram-sha-512
	EnvSASLUsername  = "NERSTREAM_KAFKA_SASL_USERNAME"
	EnvSASLPassword  = "NERSTREAM_KAFKA_SASL_PASSWORD"
)

// SASL mechanism names accepted in [Config.SASLMechanism].
const (
	SASLPlain       = "plain"
	SASLScramSHA256 = "scram-sha-256"
	SASLScramSHA512 = "scram-sha-512"
)

// DefaultClientID is the client id used when [Config.ClientID] is empty.
const DefaultClientID = "nerstream"

// DefaultDialTimeout bounds connecting to a broker when
// [Config.DialTimeout] is zero.
const DefaultDialTimeout = 10 * time.Second

// Config holds the connection settings shared by [Publisher], [Group],
// [DeadLetter] and [EnsureTopic]. The zero value connects in plain text with
// no authentication; Brokers must be set somewhere (here or as the brokers
// argument of the constructors).
type Config struct {
	// Brokers are the bootstrap host:port addresses.
	Brokers []string
	// ClientID identifies this process in broker logs and quotas.
	ClientID string
	// DialTimeout bounds each connection attempt (DefaultDialTimeout if 0).
	DialTimeout time.Duration

	// TLS enables TLS. It is implied by TLSCAFile, TLSCertFile and
	// TLSInsecureSkipVerify.
	TLS bool
	// TLSCAFile is a PEM bundle of CAs trusted for the broker certificates
	// (the system roots when empty).
	TLSCAFile string
	// TLSCertFile and TLSKeyFile are a PEM client certificate and key for
	// mutual TLS; both or neither must be set.
	TLSCertFile, TLSKeyFile string
	// TLSInsecureSkipVerify disables server certificate verification (tests
	// only).
	TLSInsecureSkipVerify bool

	// SASLMechanism is "", SASLPlain, SASLScramSHA256 or SASLScramSHA512
	// (case-insensitive).
	SASLMechanism string
	// SASLUsername and SASLPassword are the SASL credentials.
	SASLUsername, SASLPassword string
}

// SplitBrokers splits a comma-separated broker list, dropping blanks.
func SplitBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// RegisterFlags registers -brokers, -kafka-client-id, -kafka-tls,
// -kafka-tls-ca, -kafka-tls-cert, -kafka-tls-key, -kafka-tls-insecure,
// -kafka-sasl-mechanism, -kafka-sasl-username and -kafka-sasl-password on fs,
// writing into c. The current values of c are the defaults. Every command
// parses with config.Parse, so each flag is also read from its environment
// twin (the Env* constants) when it is not on the command line:
//
//	var cfg queue.Config
//	cfg.RegisterFlags(fs)
//	err := config.Parse(fs, args) // flags, then NERSTREAM_* twins
//	err = cfg.Validate()
//
// The password flag exists for completeness; prefer the environment variable
// so the secret stays out of process listings.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.Func("brokers", "comma-separated Kafka bootstrap brokers (env "+EnvBrokers+")"+defaultNote(strings.Join(c.Brokers, ",")),
		func(s string) error { c.Brokers = SplitBrokers(s); return nil })
	fs.StringVar(&c.ClientID, "kafka-client-id", c.ClientID, "Kafka client id (env "+EnvClientID+")")
	fs.BoolVar(&c.TLS, "kafka-tls", c.TLS, "connect to Kafka over TLS (env "+EnvTLS+")")
	fs.StringVar(&c.TLSCAFile, "kafka-tls-ca", c.TLSCAFile, "PEM CA bundle for the Kafka brokers; implies TLS (env "+EnvTLSCA+")")
	fs.StringVar(&c.TLSCertFile, "kafka-tls-cert", c.TLSCertFile, "PEM client certificate for mutual TLS (env "+EnvTLSCert+")")
	fs.StringVar(&c.TLSKeyFile, "kafka-tls-key", c.TLSKeyFile, "PEM client key for mutual TLS (env "+EnvTLSKey+")")
	fs.BoolVar(&c.TLSInsecureSkipVerify, "kafka-tls-insecure", c.TLSInsecureSkipVerify, "skip Kafka server certificate verification (env "+EnvTLSInsecure+")")
	fs.StringVar(&c.SASLMechanism, "kafka-sasl-mechanism", c.SASLMechanism, "SASL mechanism: plain, scram-sha-256, scram-sha-512 (env "+EnvSASLMechanism+")")
	fs.StringVar(&c.SASLUsername, "kafka-sasl-username", c.SASLUsername, "SASL username (env "+EnvSASLUsername+")")
	fs.Func("kafka-sasl-password", "SASL password; prefer env "+EnvSASLPassword,
		func(s string) error { c.SASLPassword = s; return nil })
}

func defaultNote(v string) string {
	if v == "" {
		return ""
	}
	return " (default " + v + ")"
}

// Validate reports configuration mistakes without touching the network or
// the file system.
func (c Config) Validate() error {
	var errs []error
	for _, b := range c.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("broker address %q: want host:port", b))
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, fmt.Errorf("TLS client certificate %q and key %q must be set together", c.TLSCertFile, c.TLSKeyFile))
	}
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("negative dial timeout %v", c.DialTimeout))
	}
	switch strings.ToLower(c.SASLMechanism) {
	case "":
		if c.SASLUsername != "" {
			errs = append(errs, fmt.Errorf("SASL username %q set without a SASL mechanism", c.SASLUsername))
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if c.SASLUsername == "" {
			errs = append(errs, fmt.Errorf("SASL mechanism %s needs a username", c.SASLMechanism))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown SASL mechanism %q (want %s, %s or %s)", c.SASLMechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512))
	}
	return errors.Join(errs...)
}

// tlsEnabled reports whether any TLS setting asks for TLS.
func (c Config) tlsEnabled() bool {
	return c.TLS || c.TLSCAFile != "" || c.TLSCertFile != "" || c.TLSInsecureSkipVerify
}

// TLSConfig returns the client TLS configuration, or nil when TLS is off.
// It reads the CA and certificate files.
func (c Config) TLSConfig() (*tls.Config, error) {
	if !c.tlsEnabled() {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.TLSInsecureSkipVerify} //nolint:gosec // opt-in for tests
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("read Kafka TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka TLS CA file %s: no PEM certificates found", c.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	if c.TLSCertFile != "" || c.TLSKeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("load Kafka TLS client certificate %s / key %s: %w", c.TLSCertFile, c.TLSKeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// SASL returns the SASL mechanism, or nil when SASL is off.
func (c Config) SASL() (sasl.Mechanism, error) {
	switch strings.ToLower(c.SASLMechanism) {
	case "":
		return nil, nil
	case SASLPlain:
		return plain.Mechanism{Username: c.SASLUsername, Password: c.SASLPassword}, nil
	case SASLScramSHA256:
		m, err := scram.Mechanism(scram.SHA256, c.SASLUsername, c.SASLPassword)
		if err != nil {
			return nil, fmt.Errorf("SASL %s for user %q: %w", SASLScramSHA256, c.SASLUsername, err)
		}
		return m, nil
	case SASLScramSHA512:
		m, err := scram.Mechanism(scram.SHA512, c.SASLUsername, c.SASLPassword)
		if err != nil {
			return nil, fmt.Errorf("SASL %s for user %q: %w", SASLScramSHA512, c.SASLUsername, err)
		}
		return m, nil
	default:
		return nil, fmt.Errorf("unknown SASL mechanism %q", c.SASLMechanism)
	}
}

func (c Config) clientID() string {
	if c.ClientID == "" {
		return DefaultClientID
	}
	return c.ClientID
}

func (c Config) dialTimeout() time.Duration {
	if c.DialTimeout <= 0 {
		return DefaultDialTimeout
	}
	return c.DialTimeout
}

// withBrokers returns c with Brokers replaced by brokers when that is
// non-empty, and checks that some broker is configured.
func (c Config) withBrokers(brokers []string) (Config, error) {
	if len(brokers) > 0 {
		c.Brokers = append([]string(nil), brokers...)
	}
	if len(c.Brokers) == 0 {
		return c, errors.New("no Kafka brokers configured (set " + EnvBrokers + " or -brokers)")
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// Dialer returns a kafka-go Dialer with the TLS and SASL settings (used by
// the consumer group protocol).
func (c Config) Dialer() (*kafka.Dialer, error) {
	tc, mech, err := c.security()
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{
		ClientID:      c.clientID(),
		Timeout:       c.dialTimeout(),
		DualStack:     true,
		TLS:           tc,
		SASLMechanism: mech,
	}, nil
}

// Transport returns a kafka-go Transport with the TLS and SASL settings
// (used by writers and the fetch/admin client).
func (c Config) Transport() (*kafka.Transport, error) {
	tc, mech, err := c.security()
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{
		ClientID:    c.clientID(),
		DialTimeout: c.dialTimeout(),
		IdleTimeout: 60 * time.Second,
		MetadataTTL: 10 * time.Second,
		TLS:         tc,
		SASL:        mech,
	}, nil
}

// security returns the TLS configuration and SASL mechanism (either may be
// nil) shared by Dialer and Transport.
func (c Config) security() (*tls.Config, sasl.Mechanism, error) {
	tc, err := c.TLSConfig()
	if err != nil {
		return nil, nil, err
	}
	mech, err := c.SASL()
	if err != nil {
		return nil, nil, err
	}
	return tc, mech, nil
}

// client returns an admin/fetch client for c.
func (c Config) client() (*kafka.Client, *kafka.Transport, error) {
	tr, err := c.Transport()
	if err != nil {
		return nil, nil, err
	}
	return &kafka.Client{Addr: kafka.TCP(c.Brokers...), Transport: tr, Timeout: 30 * time.Second}, tr, nil
}

// brokerList formats the brokers for error messages.
func (c Config) brokerList() string { return strings.Join(c.Brokers, ",") }

// BrokerDefaultReplication as a replication factor lets the brokers choose
// it: their default.replication.factor.
const BrokerDefaultReplication = -1

// EnsureTopic creates topic with the given partition count and replication
// factor (BrokerDefaultReplication: the brokers' default) when it does not
// exist yet. An existing topic is left alone (its
// partition count is not changed). It fails within cfg's dial timeout (or
// ctx's deadline, if sooner) with an error naming the brokers when none is
// reachable.
func EnsureTopic(ctx context.Context, cfg Config, topic string, partitions, replicationFactor int) error {
	if topic == "" {
		return errors.New("ensure topic: empty topic name")
	}
	if partitions < 1 {
		return fmt.Errorf("ensure topic %s: partition count %d must be at least 1", topic, partitions)
	}
	if replicationFactor < 1 && replicationFactor != BrokerDefaultReplication {
		return fmt.Errorf("ensure topic %s: replication factor %d must be at least 1 (or %d: the brokers' default.replication.factor)", topic, replicationFactor, BrokerDefaultReplication)
	}
	if len(cfg.Brokers) == 0 {
		return fmt.Errorf("ensure topic %s: no Kafka brokers configured (set %s or -brokers)", topic, EnvBrokers)
	}
	n, err := topicPartitions(ctx, cfg, topic)
	if err != nil {
		return fmt.Errorf("ensure topic %s: %w", topic, err)
	}
	if n > 0 {
		return nil
	}
	client, tr, err := cfg.client()
	if err != nil {
		return fmt.Errorf("ensure topic %s: %w", topic, err)
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, cfg.dialTimeout()+10*time.Second)
	defer cancel()
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: partitions, ReplicationFactor: replicationFactor,
	}}})
	if err != nil {
		return fmt.Errorf("ensure topic %s: create on brokers %s: %w", topic, cfg.brokerList(), err)
	}
	if terr := resp.Errors[topic]; terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
		return fmt.Errorf("ensure topic %s: create with %d partitions, replication %d: %w", topic, partitions, replicationFactor, terr)
	}
	return nil
}

// topicPartitions returns the partition count of topic, 0 when it does not
// exist. Connection failures come back within the dial timeout as an error
// naming the brokers. It uses a fresh transport on every call: kafka-go's
// Transport answers metadata requests from its cache (refreshed every
// MetadataTTL), so a long-lived one would not see a new topic for a while.
func topicPartitions(ctx context.Context, cfg Config, topic string) (int, error) {
	if err := probeBrokers(ctx, cfg); err != nil {
		return 0, err
	}
	client, tr, err := cfg.client()
	if err != nil {
		return 0, err
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, cfg.dialTimeout()+10*time.Second)
	defer cancel()
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("metadata from brokers %s: %w", cfg.brokerList(), err)
	}
	for _, t := range meta.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
				return 0, nil
			}
			return 0, fmt.Errorf("metadata for topic %s from brokers %s: %w", topic, cfg.brokerList(), t.Error)
		}
		return len(t.Partitions), nil
	}
	return 0, nil
}

// probeBrokers dials the bootstrap brokers (TLS and SASL included) and
// returns nil as soon as one answers. kafka-go's Transport blocks every
// request until its first metadata load succeeds, retrying unreachable
// brokers until the context ends, so without this probe an unreachable
// cluster would look like a hang.
func probeBrokers(ctx context.Context, cfg Config) error {
	d, err := cfg.Dialer()
	if err != nil {
		return err
	}
	var errs []error
	for _, b := range cfg.Brokers {
		dctx, cancel := context.WithTimeout(ctx, cfg.dialTimeout())
		conn, err := d.DialContext(dctx, "tcp", b)
		cancel()
		if err == nil {
			// A listener that accepts but does not speak Kafka would
			// otherwise stall the next request: ask for API versions under
			// the same deadline.
			deadline := time.Now().Add(cfg.dialTimeout())
			if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
				deadline = dl
			}
			if err = conn.SetDeadline(deadline); err == nil {
				_, err = conn.ApiVersions()
			}
			conn.Close()
			if err == nil {
				return nil
			}
			err = fmt.Errorf("no Kafka answer: %w", err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", b, err))
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("cannot connect to any Kafka broker among %s: %w", cfg.brokerList(), errors.Join(errs...))
}
