package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Option configures [Start].
type Option func(*options)

type options struct {
	port       int
	partitions int
	minSession time.Duration
	dataDir    string
	topics     map[string]int
	logger     *slog.Logger
}

// WithPort makes the broker listen on 127.0.0.1:port. Port 0 (the default)
// picks a free port.
func WithPort(port int) Option { return func(o *options) { o.port = port } }

// WithPartitions sets the partition count of topics created without an
// explicit count (auto-created topics and CreateTopics requests with -1
// partitions). The default is 4.
func WithPartitions(n int) Option { return func(o *options) { o.partitions = n } }

// WithGroupMinSessionTimeout lowers (or raises) the smallest consumer-group
// session timeout the broker accepts. Kafka and kfake default to 6 s; tests
// use e.g. 100 ms so that members can use short session timeouts.
func WithGroupMinSessionTimeout(d time.Duration) Option {
	return func(o *options) { o.minSession = d }
}

// WithDataDir persists broker state (topics, records, consumer-group offsets)
// under dir and reloads it on the next [Start] with the same dir. The
// directory is created when missing. See the package documentation for the
// durability limits.
func WithDataDir(dir string) Option { return func(o *options) { o.dataDir = dir } }

// WithTopic creates topic with the given number of partitions at start
// unless it already exists (e.g. reloaded from the data dir). partitions < 1
// means the [WithPartitions] default.
func WithTopic(topic string, partitions int) Option {
	return func(o *options) {
		if o.topics == nil {
			o.topics = make(map[string]int)
		}
		o.topics[topic] = partitions
	}
}

// WithLogger routes kfake's warnings and errors to l (nil discards them, the
// default).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// Broker is a running embedded broker. Close it when done.
type Broker struct {
	cluster *kfake.Cluster
	addrs   []string
	dataDir string

	closeOnce sync.Once
}

// Start starts a single-node broker. ctx is only checked before starting:
// the broker lives until [Broker.Close], independent of ctx.
func Start(ctx context.Context, opts ...Option) (*Broker, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start broker: %w", err)
	}
	o := options{partitions: 4}
	for _, opt := range opts {
		opt(&o)
	}
	if o.port < 0 || o.port > 65535 {
		return nil, fmt.Errorf("start broker: port %d out of range 0..65535", o.port)
	}
	if o.partitions < 1 {
		return nil, fmt.Errorf("start broker: default partition count %d must be at least 1", o.partitions)
	}
	if o.minSession < 0 {
		return nil, fmt.Errorf("start broker: negative group min session timeout %v", o.minSession)
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(o.port),
		kfake.DefaultNumPartitions(o.partitions),
		kfake.ClusterID("nerstream-embedded"),
	}
	if o.minSession > 0 {
		kopts = append(kopts, kfake.GroupMinSessionTimeout(o.minSession))
	}
	if o.dataDir != "" {
		if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
			return nil, fmt.Errorf("start broker: create data dir %s: %w", o.dataDir, err)
		}
		kopts = append(kopts, kfake.DataDir(o.dataDir))
	}
	if o.logger != nil {
		kopts = append(kopts, kfake.WithLogger(slogAdapter{o.logger}))
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		where := fmt.Sprintf("port %d", o.port)
		if o.dataDir != "" {
			where += ", data dir " + o.dataDir
		}
		return nil, fmt.Errorf("start broker (%s): %w", where, err)
	}
	b := &Broker{cluster: c, addrs: c.ListenAddrs(), dataDir: o.dataDir}
	if len(o.topics) > 0 {
		if err := b.createTopics(ctx, o.topics, o.partitions); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

// Addrs returns the host:port addresses clients should bootstrap from.
func (b *Broker) Addrs() []string { return append([]string(nil), b.addrs...) }

// DataDir returns the persistence directory, or "" when the broker keeps its
// state in memory only.
func (b *Broker) DataDir() string { return b.dataDir }

// Close stops the broker; with a data dir it first writes its final state.
// Close is safe to call more than once.
func (b *Broker) Close() error {
	b.closeOnce.Do(b.cluster.Close)
	return nil
}

// slogAdapter maps kfake log levels onto slog. kfake's info and debug levels
// log every request, so only warnings and errors are forwarded.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Logf(level kfake.LogLevel, msg string, args ...any) {
	var sl slog.Level
	switch level {
	case kfake.LogLevelError:
		sl = slog.LevelError
	case kfake.LogLevelWarn:
		sl = slog.LevelWarn
	default:
		return
	}
	a.l.Log(context.Background(), sl, strings.TrimSpace(fmt.Sprintf(msg, args...)), "component", "kfake")
}

// createTopics creates the requested topics over the wire (so that it works
// the same for a fresh and a reloaded broker), ignoring those that exist.
func (b *Broker) createTopics(ctx context.Context, topics map[string]int, def int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(b.addrs...), Timeout: 10 * time.Second}
	req := &kafka.CreateTopicsRequest{}
	for name, n := range topics {
		if n < 1 {
			n = def
		}
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: name, NumPartitions: n, ReplicationFactor: 1})
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("start broker: create topics: %w", err)
	}
	for name, terr := range resp.Errors {
		if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			return fmt.Errorf("start broker: create topic %q: %w", name, terr)
		}
	}
	return nil
}

// ErrInjectedDrop is the cause of the connection drops [Broker.DropConnections]
// injects (it never reaches a client: the client sees its connection close).
var ErrInjectedDrop = errors.New("broker: injected connection drop")

// DropConnections is a fault injector for tests: the next n requests with
// one of the given API keys (kmsg.Fetch, kmsg.OffsetCommit, ...; none: any
// request) are not answered, and the connection each arrived on is closed,
// as a broker restart or a network failure would. It returns a function that
// reports how many connections were dropped so far.
func (b *Broker) DropConnections(n int, keys ...int16) (dropped func() int) {
	var mu sync.Mutex
	count := 0
	if len(keys) == 0 {
		keys = []int16{-1}
	}
	for _, k := range keys {
		b.cluster.ControlKey(k, func(kmsg.Request) (kmsg.Response, error, bool) {
			mu.Lock()
			defer mu.Unlock()
			if count >= n {
				b.cluster.DropControl()
				return nil, nil, false
			}
			count++
			b.cluster.KeepControl()
			return nil, ErrInjectedDrop, true
		})
	}
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return count
	}
}
