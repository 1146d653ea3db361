package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Message is one record to publish.
type Message struct {
	// Key selects the partition (hash balancer); records with the same key
	// keep their order. A nil key spreads records over partitions.
	Key []byte
	// Value is the payload.
	Value []byte
	// Headers are written as Kafka record headers, in key order.
	Headers map[string]string
}

// Publisher writes messages to one topic synchronously: [Publisher.Publish]
// returns once all in-sync replicas have the messages (acks=all). Records are
// zstd-compressed and partitioned by a hash of the key. A Publisher is safe
// for concurrent use.
type Publisher struct {
	topic  string
	cfg    Config
	w      *kafka.Writer
	tr     *kafka.Transport
	logger *slog.Logger
	max    int
}

// Defaults for topics created by a Publisher.
const (
	DefaultPartitions      = 4
	DefaultMaxMessageBytes = 1 << 20
)

// NewPublisher connects to brokers, makes sure topic exists (creating it
// unless WithCreateTopic(false)) and returns a Publisher for it. When no
// broker is reachable it fails within the dial timeout (Config.DialTimeout,
// 10 s by default, or ctx's deadline if sooner) with an error naming the
// brokers.
func NewPublisher(ctx context.Context, brokers []string, topic string, opts ...PublisherOption) (*Publisher, error) {
	o := publisherOptions{
		topic:           topicSettings{partitions: DefaultPartitions, replicationFactor: 1, create: true},
		maxMessageBytes: DefaultMaxMessageBytes,
	}
	for _, opt := range opts {
		opt.applyPublisher(&o)
	}
	p, err := newPublisher(ctx, brokers, topic, o)
	if err != nil {
		return nil, fmt.Errorf("new publisher for topic %s: %w", topic, err)
	}
	return p, nil
}

func newPublisher(ctx context.Context, brokers []string, topic string, o publisherOptions) (*Publisher, error) {
	if topic == "" {
		return nil, errors.New("empty topic name")
	}
	if o.maxMessageBytes < 1 {
		return nil, fmt.Errorf("max message bytes %d must be positive", o.maxMessageBytes)
	}
	cfg, err := o.cfg.withBrokers(brokers)
	if err != nil {
		return nil, err
	}
	logger := o.logger
	if logger == nil {
		logger = slog.Default()
	}
	if o.topic.create {
		if err := EnsureTopic(ctx, cfg, topic, o.topic.partitions, o.topic.replicationFactor); err != nil {
			return nil, err
		}
	} else {
		n, err := topicPartitions(ctx, cfg, topic)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("topic %s does not exist on brokers %s (and topic creation is off)", topic, cfg.brokerList())
		}
	}
	tr, err := cfg.Transport()
	if err != nil {
		return nil, err
	}
	w := &kafka.Writer{
		Addr:                   kafka.TCP(cfg.Brokers...),
		Topic:                  topic,
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		Compression:            kafka.Zstd,
		Transport:              tr,
		MaxAttempts:            5,
		WriteBackoffMin:        100 * time.Millisecond,
		WriteBackoffMax:        2 * time.Second,
		BatchSize:              1000,
		BatchBytes:             int64(o.maxMessageBytes),
		BatchTimeout:           2 * time.Millisecond, // synchronous writes wait this long for a partial batch
		WriteTimeout:           30 * time.Second,
		AllowAutoTopicCreation: false,
	}
	return &Publisher{topic: topic, cfg: cfg, w: w, tr: tr, logger: logger, max: o.maxMessageBytes}, nil
}

// Topic returns the topic the publisher writes to.
func (p *Publisher) Topic() string { return p.topic }

// Publish writes msgs and waits until the brokers acknowledged all of them.
// On error some messages may have been written (kafka-go reports per
// message; the error names the first failures).
func (p *Publisher) Publish(ctx context.Context, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	kms := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		if size := len(m.Key) + len(m.Value); size > p.max {
			return fmt.Errorf("publish to %s: message %d (key %q) is %d bytes, over the %d-byte limit", p.topic, i, truncKey(m.Key), size, p.max)
		}
		kms[i] = kafka.Message{Key: m.Key, Value: m.Value, Headers: toHeaders(m.Headers)}
	}
	if err := p.w.WriteMessages(ctx, kms...); err != nil {
		return p.publishError(err, msgs)
	}
	return nil
}

func (p *Publisher) publishError(err error, msgs []Message) error {
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) {
		pe := &PublishError{Topic: p.topic, Brokers: p.cfg.brokerList(), Total: len(msgs)}
		for i, e := range werrs {
			if e != nil {
				pe.Causes = append(pe.Causes, fmt.Errorf("message %d (key %q): %w", i, truncKey(msgs[i].Key), e))
			}
		}
		return pe
	}
	return fmt.Errorf("publish %d messages to %s on brokers %s: %w", len(msgs), p.topic, p.cfg.brokerList(), err)
}

// PublishError reports the messages of one Publish call that the brokers
// did not accept. errors.Is and errors.As see every cause (for example
// kafka.MessageSizeTooLarge).
type PublishError struct {
	Topic, Brokers string
	Total          int     // messages in the call
	Causes         []error // one per failed message, naming its index and key
}

// Error summarises the failure with the first three causes.
func (e *PublishError) Error() string {
	first := make([]string, 0, 3)
	for _, c := range e.Causes[:min(3, len(e.Causes))] {
		first = append(first, c.Error())
	}
	return fmt.Sprintf("publish to %s on brokers %s: %d of %d messages failed: %s", e.Topic, e.Brokers, len(e.Causes), e.Total, strings.Join(first, "; "))
}

// Unwrap returns the per-message causes.
func (e *PublishError) Unwrap() []error { return e.Causes }

// Close flushes nothing (Publish is synchronous) and releases connections.
func (p *Publisher) Close() error {
	err := p.w.Close()
	p.tr.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("close publisher for %s: %w", p.topic, err)
	}
	return nil
}

func toHeaders(h map[string]string) []kafka.Header {
	if len(h) == 0 {
		return nil
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]kafka.Header, len(keys))
	for i, k := range keys {
		out[i] = kafka.Header{Key: k, Value: []byte(h[k])}
	}
	return out
}

func truncKey(k []byte) string {
	if len(k) > 64 {
		return string(k[:64]) + "…"
	}
	return string(k)
}
