package queue

import (
	"log/slog"
	"time"
)

// common holds settings every client type accepts.
type common struct {
	cfg    Config
	logger *slog.Logger
}

// topicSettings control topic creation by [NewPublisher] and [NewDeadLetter].
type topicSettings struct {
	partitions        int
	replicationFactor int
	create            bool
}

// PublisherOption configures [NewPublisher].
type PublisherOption interface{ applyPublisher(*publisherOptions) }

// GroupOption configures [NewGroup].
type GroupOption interface{ applyGroup(*groupOptions) }

// DeadLetterOption configures [NewDeadLetter].
type DeadLetterOption interface{ applyDeadLetter(*publisherOptions) }

// CommonOption is accepted by [NewPublisher], [NewGroup] and [NewDeadLetter].
type CommonOption func(*common)

func (o CommonOption) applyPublisher(p *publisherOptions)  { o(&p.common) }
func (o CommonOption) applyDeadLetter(p *publisherOptions) { o(&p.common) }
func (o CommonOption) applyGroup(g *groupOptions)          { o(&g.common) }

// WithConfig sets the connection settings (TLS, SASL, client id, dial
// timeout). A non-empty brokers argument of the constructor replaces
// cfg.Brokers; an empty one uses them.
func WithConfig(cfg Config) CommonOption { return func(c *common) { c.cfg = cfg } }

// WithLogger sets the logger (slog.Default() when unset or nil).
func WithLogger(l *slog.Logger) CommonOption { return func(c *common) { c.logger = l } }

// TopicOption is accepted by [NewPublisher] and [NewDeadLetter]; it controls
// the creation of a missing topic.
type TopicOption func(*topicSettings)

func (o TopicOption) applyPublisher(p *publisherOptions)  { o(&p.topic) }
func (o TopicOption) applyDeadLetter(p *publisherOptions) { o(&p.topic) }

// WithPartitions sets the partition count of a topic created because it was
// missing (default 4 for publishers, 1 for dead-letter topics).
func WithPartitions(n int) TopicOption { return func(t *topicSettings) { t.partitions = n } }

// WithReplicationFactor sets the replication factor of a created topic
// (default 1; use 3 on a real cluster).
func WithReplicationFactor(r int) TopicOption {
	return func(t *topicSettings) { t.replicationFactor = r }
}

// WithCreateTopic chooses whether a missing topic is created (default true).
// With false, a missing topic is an error at construction.
func WithCreateTopic(create bool) TopicOption { return func(t *topicSettings) { t.create = create } }

// publisherOptions is shared by Publisher and DeadLetter.
type publisherOptions struct {
	common
	topic           topicSettings
	maxMessageBytes int
}

// PublisherSetting is an option only publishers and dead-letter writers
// accept.
type PublisherSetting func(*publisherOptions)

func (o PublisherSetting) applyPublisher(p *publisherOptions)  { o(p) }
func (o PublisherSetting) applyDeadLetter(p *publisherOptions) { o(p) }

// WithMaxMessageBytes caps the encoded size of one message (default 1 MiB,
// Kafka's default message.max.bytes). Larger messages fail in Publish with an
// error naming the message's key; the broker's own limit must be at least
// as large.
func WithMaxMessageBytes(n int) PublisherSetting {
	return func(p *publisherOptions) { p.maxMessageBytes = n }
}

// groupOptions configure a Group.
type groupOptions struct {
	common
	from              From
	sessionTimeout    time.Duration
	heartbeatInterval time.Duration
	rebalanceTimeout  time.Duration
	joinBackoff       time.Duration
	idleInterval      time.Duration
	maxBatch          int
	fetchMaxBytes     int
	fetchMaxDecomp    int64
	fetchMaxWait      time.Duration
	retryBackoff      time.Duration
	stuck             stuckSettings
	brokerErr         func(op string)
	owner             string
}

// WithBrokerErrors calls fn once for every failed broker operation the group
// retries — op is "join", "metadata", "fetch" or "offsets" — e.g. to count
// them in a metric. A dropped connection, a restarting broker or an
// unreachable leader show up there before anything is stuck. fn must not
// block.
func WithBrokerErrors(fn func(op string)) GroupSetting {
	return func(g *groupOptions) { g.brokerErr = fn }
}

// GroupSetting is an option only [NewGroup] accepts.
type GroupSetting func(*groupOptions)

func (o GroupSetting) applyGroup(g *groupOptions) { o(g) }

// WithFrom sets where a partition starts when the handler's Assigned
// returns UseDefault (default FromCommitted).
func WithFrom(f From) GroupSetting { return func(g *groupOptions) { g.from = f } }

// WithSessionTimeout sets the group session timeout: how long the
// coordinator waits for a heartbeat before declaring the member dead
// (default 30 s; the broker's group.min.session.timeout.ms, 6 s on Kafka,
// is the floor).
func WithSessionTimeout(d time.Duration) GroupSetting {
	return func(g *groupOptions) { g.sessionTimeout = d }
}

// WithHeartbeatInterval sets how often the member heartbeats (default 3 s;
// keep it well under a third of the session timeout). The heartbeat is also
// how a member learns of a rebalance, so it bounds rebalance latency.
func WithHeartbeatInterval(d time.Duration) GroupSetting {
	return func(g *groupOptions) { g.heartbeatInterval = d }
}

// WithRebalanceTimeout sets how long the coordinator waits for all members
// to rejoin during a rebalance (default 30 s). Handlers must finish
// Records and Revoked within it.
func WithRebalanceTimeout(d time.Duration) GroupSetting {
	return func(g *groupOptions) { g.rebalanceTimeout = d }
}

// WithJoinGroupBackoff sets the pause before retrying a failed join
// (default 1 s).
func WithJoinGroupBackoff(d time.Duration) GroupSetting {
	return func(g *groupOptions) { g.joinBackoff = d }
}

// WithIdleInterval sets after how long without records a partition's
// handler receives an empty Records call (default 5 s; 0 disables idle
// calls).
func WithIdleInterval(d time.Duration) GroupSetting {
	return func(g *groupOptions) { g.idleInterval = d }
}

// WithMaxBatch caps the number of records per Records call (default 256).
func WithMaxBatch(n int) GroupSetting { return func(g *groupOptions) { g.maxBatch = n } }

// WithFetchMaxBytes caps the bytes one fetch request may return per
// partition (default 16 MiB). It must exceed the largest message.
func WithFetchMaxBytes(n int) GroupSetting { return func(g *groupOptions) { g.fetchMaxBytes = n } }

// WithMaxFetchDecompressedBytes bounds the decompressed bytes of all the
// record batches of one fetch together (default
// DefaultMaxFetchDecompressedBytes). The first batch of a fetch is always
// delivered when it is within its own bound (SetMaxDecompressedBytes); the
// later ones only while the total stays within n, and the rest comes with
// the next fetch. Nothing is skipped.
func WithMaxFetchDecompressedBytes(n int64) GroupSetting {
	return func(g *groupOptions) { g.fetchMaxDecomp = n }
}

// WithFetchMaxWait sets how long the broker may hold a fetch when no data is
// available (default 500 ms, capped at the idle interval).
func WithFetchMaxWait(d time.Duration) GroupSetting {
	return func(g *groupOptions) { g.fetchMaxWait = d }
}

// WithRetryBackoff sets the pause after a failed fetch (default 500 ms);
// while fetches keep failing it doubles, with jitter, up to 5 s.
func WithRetryBackoff(d time.Duration) GroupSetting {
	return func(g *groupOptions) { g.retryBackoff = d }
}
