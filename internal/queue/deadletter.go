package queue

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"
)

// Header names the dead-letter writer adds to every record.
const (
	HeaderError           = "nerstream-error"
	HeaderSourceTopic     = "nerstream-source-topic"
	HeaderSourcePartition = "nerstream-source-partition"
	HeaderSourceOffset    = "nerstream-source-offset"
	HeaderFailedAt        = "nerstream-failed-at" // RFC 3339, UTC, nanoseconds
	// HeaderTruncated is set, to the original value's size in bytes, when
	// the value was cut to fit the topic's message limit; the source
	// headers still point at the full record.
	HeaderTruncated = "nerstream-truncated-from"
)

// DeadLetter writes records that could not be processed to a dead-letter
// topic, keeping the original key, value and headers and adding the
// nerstream-* headers that say where the record came from and why it failed.
type DeadLetter struct {
	pub *Publisher
	now func() time.Time
}

// DefaultDeadLetterPartitions is the partition count of a created
// dead-letter topic.
const DefaultDeadLetterPartitions = 1

// NewDeadLetter returns a dead-letter writer for topic, creating the topic
// when missing (WithCreateTopic(false) turns that off; WithPartitions
// overrides the single default partition). A created topic gets the brokers'
// default.replication.factor (WithReplicationFactor overrides it): a
// single replica would make dead letters unwritable, and the partitions that
// produce them stop, whenever the node holding it is down.
func NewDeadLetter(ctx context.Context, brokers []string, topic string, opts ...DeadLetterOption) (*DeadLetter, error) {
	o := publisherOptions{
		topic:           topicSettings{partitions: DefaultDeadLetterPartitions, replicationFactor: BrokerDefaultReplication, create: true},
		maxMessageBytes: DefaultMaxMessageBytes,
	}
	for _, opt := range opts {
		opt.applyDeadLetter(&o)
	}
	p, err := newPublisher(ctx, brokers, topic, o)
	if err != nil {
		return nil, fmt.Errorf("new dead-letter writer for topic %s: %w", topic, err)
	}
	return &DeadLetter{pub: p, now: time.Now}, nil
}

// Topic returns the dead-letter topic.
func (d *DeadLetter) Topic() string { return d.pub.topic }

// deadLetterHeadroom is kept free of the value within the message limit for
// the key, the headers and the record overhead.
const deadLetterHeadroom = 16 << 10

// Send writes rec to the dead-letter topic with the failure cause. extra
// headers are added too; neither they nor the original headers can override
// the nerstream-* headers set here. A value too large for the message limit
// is truncated (HeaderTruncated says from how many bytes) rather than
// refused: the source headers locate the full record.
func (d *DeadLetter) Send(ctx context.Context, rec Record, cause error, extra map[string]string) error {
	h := make(map[string]string, len(rec.Headers)+len(extra)+5)
	maps.Copy(h, rec.Headers)
	maps.Copy(h, extra)
	msg := "unknown error"
	if cause != nil {
		msg = cause.Error()
	}
	h[HeaderError] = msg
	h[HeaderSourceTopic] = rec.Topic
	h[HeaderSourcePartition] = strconv.Itoa(rec.Partition)
	h[HeaderSourceOffset] = strconv.FormatInt(rec.Offset, 10)
	h[HeaderFailedAt] = d.now().UTC().Format(time.RFC3339Nano)
	value := rec.Value
	if room := d.pub.max - deadLetterHeadroom - len(rec.Key); len(value) > room {
		h[HeaderTruncated] = strconv.Itoa(len(value))
		value = value[:max(room, 0)]
	}
	if err := d.pub.Publish(ctx, Message{Key: rec.Key, Value: value, Headers: h}); err != nil {
		return fmt.Errorf("dead-letter %s/%d@%d: %w", rec.Topic, rec.Partition, rec.Offset, err)
	}
	return nil
}

// Close releases the writer's connections.
func (d *DeadLetter) Close() error { return d.pub.Close() }
