package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// From selects where a partition starts when the handler leaves the choice
// to the group (Assigned returns UseDefault).
type From int

const (
	// FromCommitted starts at the group's committed offset, or at the
	// earliest available offset when nothing is committed (the default).
	FromCommitted From = iota
	// FromEarliest starts at the earliest available offset.
	FromEarliest
	// FromLatest starts at the end of the partition (only new records).
	FromLatest
)

// String returns "committed", "earliest" or "latest".
func (f From) String() string {
	switch f {
	case FromCommitted:
		return "committed"
	case FromEarliest:
		return "earliest"
	case FromLatest:
		return "latest"
	default:
		return fmt.Sprintf("From(%d)", int(f))
	}
}

// ParseFrom parses "committed", "earliest" or "latest".
func ParseFrom(s string) (From, error) {
	switch s {
	case "committed", "":
		return FromCommitted, nil
	case "earliest":
		return FromEarliest, nil
	case "latest":
		return FromLatest, nil
	}
	return 0, fmt.Errorf("start position %q: want committed, earliest or latest", s)
}

// UseDefault, returned by [Handler.Assigned], applies the group's [From]
// setting instead of an explicit offset.
const UseDefault int64 = -2

// NoCommit is the committed offset passed to [Handler.Assigned] when the
// group has no committed offset for the partition.
const NoCommit int64 = -1

// ErrNotOwner is returned by [Group.Commit] when this member does not own
// the partition (any more): it was revoked, the generation ended, or the
// coordinator rejected the commit as coming from an old generation.
var ErrNotOwner = errors.New("partition not owned by this group member")

// Record is one consumed record.
type Record struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   map[string]string
	// Time is the record's timestamp (producer create time unless the topic
	// uses log-append time).
	Time time.Time
	// HighWaterMark is the partition's high-water mark at fetch time: the
	// offset the next produced record will get.
	HighWaterMark int64
}

// Partition is the handle a [Handler] receives for one partition it owns in
// one generation of the group: everything the handler needs to commit
// progress and to ask the broker about the partition, so a handler is
// complete when it is built and never needs the [Group] itself. Its methods
// are safe for concurrent use. After the partition is revoked the handle
// stays valid but Commit fails with [ErrNotOwner].
type Partition interface {
	// Topic is the topic the partition belongs to.
	Topic() string
	// ID is the partition number.
	ID() int
	// Commit records next (the offset of the next record to process) as
	// the group's committed offset; see [Group.Commit].
	Commit(ctx context.Context, next int64) error
	// HighWatermark asks the broker for the partition's high-water mark
	// now; see [Group.HighWatermark].
	HighWatermark(ctx context.Context) (int64, error)
}

// Handler receives the partitions and records of a [Group]. Methods for
// different partitions are called concurrently; for one partition they are
// called in order: Assigned, then Records any number of times, then Revoked,
// all with the same [Partition] handle.
type Handler interface {
	// Assigned is called when the member gains a partition in a
	// generation. committed is the group's committed offset (NoCommit, -1,
	// if none). It returns the offset to start reading from, or UseDefault
	// to apply the group's From setting. An error stops [Group.Run].
	Assigned(ctx context.Context, p Partition, committed int64) (int64, error)
	// Records delivers records of one partition in offset order; while it
	// blocks, no more records of the partition are fetched (backpressure).
	// ctx is cancelled when the partition is revoked or the generation
	// ends; then return promptly (the rebalance waits for it). When no
	// records arrive for the idle interval, Records is called with an
	// empty slice so the handler can flush. An error returned while ctx is
	// still live stops [Group.Run].
	Records(ctx context.Context, p Partition, recs []Record) error
	// Revoked is called once the partition's fetch loop has stopped (after
	// the last Records returned). Commits made during Revoked are still
	// attempted; after it returns, Commit for the partition fails with
	// ErrNotOwner.
	Revoked(p Partition)
}

// partition is the Group's [Partition] handle.
type partition struct {
	g  *Group
	id int
}

func (p partition) Topic() string { return p.g.topic }
func (p partition) ID() int       { return p.id }
func (p partition) Commit(ctx context.Context, next int64) error {
	return p.g.Commit(ctx, p.id, next)
}
func (p partition) HighWatermark(ctx context.Context) (int64, error) {
	return p.g.HighWatermark(ctx, p.id)
}

// Group is one member of a Kafka consumer group reading one topic. The
// group protocol (join, sync, heartbeat) decides which partitions the
// member owns; the [Handler] decides where each partition starts, so
// external storage can be the source of truth for progress. Commits
// ([Group.Commit]) only serve lag monitoring and the default start position.
type Group struct {
	topic, groupID string
	cfg            Config
	o              groupOptions
	logger         *slog.Logger
	client         *kafka.Client
	tr             *kafka.Transport
	dialer         *kafka.Dialer
	guard          *fetchGuard // checks every fetched batch before kafka-go decodes it

	running atomic.Bool

	mu    sync.Mutex
	gen   *kafka.Generation
	owned map[int]bool
	lag   map[int]int64
}

// Defaults for [NewGroup].
const (
	DefaultSessionTimeout    = 30 * time.Second
	DefaultHeartbeatInterval = 3 * time.Second
	DefaultRebalanceTimeout  = 30 * time.Second
	DefaultJoinGroupBackoff  = time.Second
	DefaultIdleInterval      = 5 * time.Second
	DefaultMaxBatch          = 256
	DefaultFetchBytes        = 16 << 20
)

// NewGroup validates the settings and returns a member for groupID reading
// topic. It does not contact the brokers; [Group.Run] does.
func NewGroup(brokers []string, topic, groupID string, opts ...GroupOption) (*Group, error) {
	o := groupOptions{
		sessionTimeout:    DefaultSessionTimeout,
		heartbeatInterval: DefaultHeartbeatInterval,
		rebalanceTimeout:  DefaultRebalanceTimeout,
		joinBackoff:       DefaultJoinGroupBackoff,
		idleInterval:      DefaultIdleInterval,
		maxBatch:          DefaultMaxBatch,
		fetchMaxBytes:     DefaultFetchBytes,
		fetchMaxDecomp:    DefaultMaxFetchDecompressedBytes,
		fetchMaxWait:      500 * time.Millisecond,
		retryBackoff:      500 * time.Millisecond,
	}
	for _, opt := range opts {
		opt.applyGroup(&o)
	}
	g, err := newGroup(brokers, topic, groupID, o)
	if err != nil {
		return nil, fmt.Errorf("new consumer group %q for topic %s: %w", groupID, topic, err)
	}
	return g, nil
}

func newGroup(brokers []string, topic, groupID string, o groupOptions) (*Group, error) {
	if topic == "" {
		return nil, errors.New("empty topic name")
	}
	if groupID == "" {
		return nil, errors.New("empty group id")
	}
	var errs []error
	if o.from < FromCommitted || o.from > FromLatest {
		errs = append(errs, fmt.Errorf("invalid start position %v", o.from))
	}
	for name, d := range map[string]time.Duration{
		"session timeout": o.sessionTimeout, "heartbeat interval": o.heartbeatInterval,
		"rebalance timeout": o.rebalanceTimeout, "join backoff": o.joinBackoff,
		"idle interval": o.idleInterval, "fetch max wait": o.fetchMaxWait, "retry backoff": o.retryBackoff,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("negative %s %v", name, d))
		}
	}
	if o.sessionTimeout > 0 && o.heartbeatInterval >= o.sessionTimeout {
		errs = append(errs, fmt.Errorf("heartbeat interval %v must be below the session timeout %v", o.heartbeatInterval, o.sessionTimeout))
	}
	if o.maxBatch < 1 {
		errs = append(errs, fmt.Errorf("max batch %d must be at least 1", o.maxBatch))
	}
	if o.fetchMaxBytes < 1 {
		errs = append(errs, fmt.Errorf("fetch max bytes %d must be positive", o.fetchMaxBytes))
	}
	if len(o.owner) > maxOwnerBytes {
		errs = append(errs, fmt.Errorf("owner of %d bytes is over Kafka's offset metadata limit of %d", len(o.owner), maxOwnerBytes))
	}
	if o.fetchMaxDecomp < 1 {
		errs = append(errs, fmt.Errorf("max fetch decompressed bytes %d must be positive", o.fetchMaxDecomp))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if o.fetchMaxWait == 0 {
		o.fetchMaxWait = 500 * time.Millisecond
	}
	if o.idleInterval > 0 && o.fetchMaxWait > o.idleInterval {
		o.fetchMaxWait = o.idleInterval
	}
	if o.retryBackoff == 0 {
		o.retryBackoff = 500 * time.Millisecond
	}
	cfg, err := o.cfg.withBrokers(brokers)
	if err != nil {
		return nil, err
	}
	client, tr, err := cfg.client()
	if err != nil {
		return nil, err
	}
	guard := newFetchGuard(o.fetchMaxDecomp, int64(o.fetchMaxBytes))
	if tr.Dial, err = guard.dial(cfg); err != nil {
		return nil, err
	}
	tr.TLS = nil // the guard's dial does TLS, so that it sees Kafka frames
	dialer, err := cfg.Dialer()
	if err != nil {
		return nil, err
	}
	logger := o.logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("topic", topic, "group", groupID)
	return &Group{topic: topic, groupID: groupID, cfg: cfg, o: o, logger: logger, client: client, tr: tr, dialer: dialer, guard: guard}, nil
}

// Ping checks that a broker answers and that the topic exists, failing
// within the dial timeout with an error naming the brokers. With
// [WithOwner], it also fails with an error wrapping [ErrForeignOwner] when
// a partition's committed offset belongs to another owner (a broker failure
// while reading them is only logged: each assignment checks again). Run
// itself waits and retries instead; call Ping first to fail fast at startup.
func (g *Group) Ping(ctx context.Context) error {
	n, err := topicPartitions(ctx, g.cfg, g.topic)
	if err != nil {
		return fmt.Errorf("consumer group %q: %w", g.groupID, err)
	}
	if n == 0 {
		return fmt.Errorf("consumer group %q: topic %s does not exist on brokers %s", g.groupID, g.topic, g.cfg.brokerList())
	}
	return g.checkAllOwners(ctx, n)
}

// Topic returns the topic the group reads.
func (g *Group) Topic() string { return g.topic }

// ID returns the consumer group id.
func (g *Group) ID() string { return g.groupID }

// Run joins the group and feeds h until ctx is done, rejoining after every
// rebalance. It returns nil when ctx ends, or the first error of the handler
// or of an assignment's owner check ([WithOwner]), after stopping all
// partitions and leaving the group; a foreign owner seen before joining
// returns at once, as from Ping. Broker failures are logged and retried,
// not returned. Run may be called only once at a time.
func (g *Group) Run(ctx context.Context, h Handler) error {
	if h == nil {
		return errors.New("consumer group run: nil handler")
	}
	if !g.running.CompareAndSwap(false, true) {
		return fmt.Errorf("consumer group %q: Run already in progress", g.groupID)
	}
	defer g.running.Store(false)

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// kafka-go's partition watcher ends every generation at once while the
	// topic is missing, which turns into a tight rejoin loop: wait for it.
	if !g.waitTopic(runCtx) {
		return nil
	}
	if n, err := topicPartitions(runCtx, g.cfg, g.topic); err == nil {
		if err := g.checkAllOwners(runCtx, n); err != nil {
			return err
		}
	}
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                    g.groupID,
		Brokers:               g.cfg.Brokers,
		Dialer:                g.dialer,
		Topics:                []string{g.topic},
		GroupBalancers:        []kafka.GroupBalancer{kafka.RangeGroupBalancer{}, kafka.RoundRobinGroupBalancer{}},
		HeartbeatInterval:     g.o.heartbeatInterval,
		SessionTimeout:        g.o.sessionTimeout,
		RebalanceTimeout:      g.o.rebalanceTimeout,
		JoinGroupBackoff:      g.o.joinBackoff,
		WatchPartitionChanges: true,
		StartOffset:           kafka.FirstOffset,
		Logger:                kafka.LoggerFunc(func(msg string, args ...any) { g.logger.Debug(fmt.Sprintf(msg, args...)) }),
		ErrorLogger:           kafka.LoggerFunc(func(msg string, args ...any) { g.logger.Debug(fmt.Sprintf(msg, args...)) }),
	})
	if err != nil {
		return fmt.Errorf("consumer group %q for topic %s: %w", g.groupID, g.topic, err)
	}

	failures := 0
	for {
		gen, err := cg.Next(runCtx)
		if err != nil {
			if runCtx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				break
			}
			if errors.Is(err, kafka.RebalanceInProgress) {
				g.logger.Debug("rejoining consumer group", "reason", err)
				continue
			}
			failures++
			g.brokerError("join")
			g.logger.Warn("joining consumer group failed; retrying", "brokers", g.cfg.brokerList(), "attempt", failures, "err", err)
			continue
		}
		failures = 0
		g.startGeneration(runCtx, cancel, gen, h)
		if len(gen.Assignments[g.topic]) == 0 && !g.waitTopic(runCtx) {
			break
		}
	}
	cg.Close() // waits for the generation's goroutines, then leaves the group
	g.tr.CloseIdleConnections()
	g.mu.Lock()
	g.gen, g.owned, g.lag = nil, nil, nil
	g.mu.Unlock()
	if cause := context.Cause(runCtx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		return cause
	}
	return nil
}

// waitTopic returns once the topic exists (true) or ctx ends (false),
// checking every second.
func (g *Group) waitTopic(ctx context.Context) bool {
	for warned := false; ; {
		n, err := topicPartitions(ctx, g.cfg, g.topic)
		if err == nil && n > 0 {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if !warned {
			if err == nil {
				err = errors.New("topic does not exist")
			}
			g.brokerError("metadata")
			g.logger.Warn("waiting for topic", "brokers", g.cfg.brokerList(), "err", err)
			warned = true
		}
		sleep(ctx, time.Second)
	}
}

// startGeneration records the new generation and starts one fetch loop per
// assigned partition. kafka-go waits for all of them before it rejoins.
func (g *Group) startGeneration(runCtx context.Context, fail context.CancelCauseFunc, gen *kafka.Generation, h Handler) {
	parts := gen.Assignments[g.topic]
	owned := make(map[int]bool, len(parts))
	ids := make([]int, 0, len(parts))
	for _, pa := range parts {
		owned[pa.ID] = true
		ids = append(ids, pa.ID)
	}
	g.mu.Lock()
	g.gen, g.owned = gen, owned
	if g.lag == nil {
		g.lag = make(map[int]int64)
	}
	g.mu.Unlock()
	g.logger.Info("consumer group generation", "generation", gen.ID, "member", gen.MemberID, "partitions", ids)

	for _, pa := range parts {
		part, committed := partition{g: g, id: pa.ID}, pa.Offset
		if committed < 0 {
			committed = NoCommit
		}
		gen.Start(func(gctx context.Context) {
			// kafka-go runs fn even when the generation already ended, and then
			// does not wait for it; skip the handler so that it never overlaps
			// the next generation's calls for the same partition.
			if gctx.Err() != nil {
				return
			}
			pctx, pcancel := context.WithCancel(runCtx)
			stop := context.AfterFunc(gctx, pcancel)
			defer stop()
			defer pcancel()
			err := g.consumePartition(pctx, h, part, committed)
			live := pctx.Err() == nil
			h.Revoked(part)
			g.mu.Lock()
			if g.gen == gen {
				delete(g.owned, part.id)
			}
			delete(g.lag, part.id)
			g.mu.Unlock()
			if err != nil && live {
				fail(fmt.Errorf("topic %s partition %d: %w", g.topic, part.id, err))
			}
		})
	}
}

// consumePartition runs the fetch loop of one partition until ctx ends or
// the handler fails.
func (g *Group) consumePartition(ctx context.Context, h Handler, part partition, committed int64) error {
	partition := part.id
	if err := g.awaitOwner(ctx, partition); err != nil {
		return err
	}
	start, err := h.Assigned(ctx, part, committed)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("assigned (committed %d): %w", committed, err)
	}
	if start == UseDefault {
		start, err = g.defaultStart(ctx, partition, committed)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	} else if start < 0 {
		return fmt.Errorf("assigned returned invalid start offset %d (want >= 0 or UseDefault)", start)
	}
	g.logger.Debug("partition assigned", "partition", partition, "committed", committed, "start", start)

	next := start
	lastDelivery := time.Now()
	var failing failureRun
	for ctx.Err() == nil {
		resp, err := g.client.Fetch(ctx, &kafka.FetchRequest{
			Topic: g.topic, Partition: partition, Offset: next,
			MinBytes: 1, MaxBytes: int64(g.o.fetchMaxBytes), MaxWait: g.o.fetchMaxWait,
		})
		if err == nil && resp.Error != nil {
			err = resp.Error
			if errors.Is(err, kafka.OffsetOutOfRange) {
				if next, err = g.outOfRange(ctx, partition, next); err == nil {
					continue
				}
			}
			if refused := g.guard.refusal(g.topic, partition); refused != nil && errors.Is(err, kafka.InvalidMessage) {
				err = refused
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			g.brokerError("fetch")
			sleep(ctx, g.retryAfter(&failing, "fetch failed", partition, next, err, "brokers", g.cfg.brokerList()))
			continue
		}
		recs, err := g.readRecords(resp, partition, next)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			sleep(ctx, g.retryAfter(&failing, "decoding fetched records failed", partition, next, err))
			continue
		}
		g.progressed(&failing, partition, next)
		if len(recs) > 0 {
			next = recs[len(recs)-1].Offset + 1
		}
		g.setLag(partition, resp.HighWatermark-next)
		large := valueBytes(recs) > largeFetchBytes
		for len(recs) > 0 {
			n := min(len(recs), g.o.maxBatch)
			if err := h.Records(ctx, part, recs[:n]); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("records at offset %d: %w", recs[0].Offset, err)
			}
			recs = recs[n:]
			lastDelivery = time.Now()
		}
		if large {
			// A fetch of hundreds of MB (kafka-go's pooled pages plus the
			// values' copies) is garbage now: give it back before the next
			// one, so that a run of them never stacks up (issue 23).
			recs = nil
			debug.FreeOSMemory()
		}
		if g.o.idleInterval > 0 && time.Since(lastDelivery) >= g.o.idleInterval && ctx.Err() == nil {
			if err := h.Records(ctx, part, []Record{}); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("idle records call at offset %d: %w", next, err)
			}
			lastDelivery = time.Now()
		}
	}
	return nil
}

// readRecords decodes a fetch response, dropping records before next (a
// fetch may start at the beginning of a compressed batch).
func (g *Group) readRecords(resp *kafka.FetchResponse, partition int, next int64) ([]Record, error) {
	return decodeRecords(resp, g.topic, partition, next)
}

// decodeRecords decodes a fetch response of topic's partition, dropping
// records before next.
func decodeRecords(resp *kafka.FetchResponse, topic string, partition int, next int64) ([]Record, error) {
	var out []Record
	for {
		r, err := resp.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if r.Offset < next {
			closeBytes(r.Key)
			closeBytes(r.Value)
			continue
		}
		key, err := readBytes(r.Key)
		if err != nil {
			return nil, fmt.Errorf("key of offset %d: %w", r.Offset, err)
		}
		val, err := readBytes(r.Value)
		if err != nil {
			return nil, fmt.Errorf("value of offset %d: %w", r.Offset, err)
		}
		var hdr map[string]string
		if len(r.Headers) > 0 {
			hdr = make(map[string]string, len(r.Headers))
			for _, hd := range r.Headers {
				hdr[hd.Key] = string(hd.Value)
			}
		}
		out = append(out, Record{
			Topic: topic, Partition: partition, Offset: r.Offset,
			Key: key, Value: val, Headers: hdr, Time: r.Time, HighWaterMark: resp.HighWatermark,
		})
	}
}

// largeFetchBytes is the value bytes of one fetch past which its memory is
// returned to the OS once the handler is done with it.
const largeFetchBytes = 64 << 20

func valueBytes(recs []Record) int {
	n := 0
	for _, r := range recs {
		n += len(r.Key) + len(r.Value)
	}
	return n
}

type bytesReader interface {
	io.ReadCloser
	Len() int
}

func readBytes(b bytesReader) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	defer b.Close()
	buf := make([]byte, b.Len())
	if _, err := io.ReadFull(b, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

func closeBytes(b bytesReader) {
	if b != nil {
		b.Close()
	}
}

// offsets returns the earliest and the end offset of a partition.
func (g *Group) offsets(ctx context.Context, partition int) (first, last int64, err error) {
	resp, err := g.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		g.topic: {kafka.FirstOffsetOf(partition), kafka.LastOffsetOf(partition)},
	}})
	if err != nil {
		return 0, 0, fmt.Errorf("list offsets of partition %d on brokers %s: %w", partition, g.cfg.brokerList(), err)
	}
	for _, po := range resp.Topics[g.topic] {
		if po.Partition != partition {
			continue
		}
		if po.Error != nil {
			return 0, 0, fmt.Errorf("list offsets of partition %d: %w", partition, po.Error)
		}
		return po.FirstOffset, po.LastOffset, nil
	}
	return 0, 0, fmt.Errorf("list offsets of partition %d: no answer for the partition", partition)
}

func (g *Group) defaultStart(ctx context.Context, partition int, committed int64) (int64, error) {
	if g.o.from == FromCommitted && committed >= 0 {
		return committed, nil
	}
	var failing failureRun
	for {
		first, last, err := g.offsets(ctx, partition)
		if err == nil {
			start := first
			if g.o.from == FromLatest {
				start = last
			}
			g.progressed(&failing, partition, start)
			return start, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		g.brokerError("offsets")
		sleep(ctx, g.retryAfter(&failing, "resolving start offset failed", partition, -1, err, "brokers", g.cfg.brokerList()))
	}
}

// outOfRange moves an out-of-range fetch offset into the log: to the
// earliest offset when it fell behind retention, to the end when it lies
// beyond the end (the broker lost data, or the handler asked for a future
// offset).
func (g *Group) outOfRange(ctx context.Context, partition int, next int64) (int64, error) {
	first, last, err := g.offsets(ctx, partition)
	if err != nil {
		return next, err
	}
	to := first
	if next > last {
		to = last
	}
	g.logger.Warn("fetch offset out of range; resetting", "partition", partition, "offset", next, "log_start", first, "log_end", last, "reset_to", to)
	return to, nil
}

func (g *Group) setLag(partition int, lag int64) {
	if lag < 0 {
		lag = 0
	}
	g.mu.Lock()
	if g.lag != nil && g.owned[partition] {
		g.lag[partition] = lag
	}
	g.mu.Unlock()
}

// Lag returns, per owned partition, how many records lie between the next
// offset to fetch and the high-water mark at the last fetch. It is a fresh
// map; partitions not fetched yet are absent.
func (g *Group) Lag() map[int]int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return maps.Clone(g.lag)
}

// Assigned returns the partitions this member owns in the current
// generation (nil between generations).
func (g *Group) Assigned() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []int
	for p, ok := range g.owned {
		if ok {
			out = append(out, p)
		}
	}
	return out
}

// Commit records next (the offset of the next record to process) as the
// group's committed offset for partition, in the current generation. It
// returns an error wrapping ErrNotOwner when the partition is not (any
// longer) owned by this member. Commits only feed lag monitoring and the
// FromCommitted default; the handler's own storage stays the truth.
func (g *Group) Commit(ctx context.Context, partition int, next int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("commit %s partition %d offset %d: %w", g.topic, partition, next, err)
	}
	if next < 0 {
		return fmt.Errorf("commit %s partition %d: invalid offset %d", g.topic, partition, next)
	}
	g.mu.Lock()
	gen, owned := g.gen, g.owned[partition]
	g.mu.Unlock()
	if gen == nil || !owned {
		return fmt.Errorf("commit %s partition %d offset %d: %w", g.topic, partition, next, ErrNotOwner)
	}
	// Generation.CommitOffsets cannot carry metadata (WithOwner): commit
	// through the client, in the generation.
	resp, err := g.client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{
		GroupID: g.groupID, GenerationID: int(gen.ID), MemberID: gen.MemberID,
		Topics: map[string][]kafka.OffsetCommit{g.topic: {{Partition: partition, Offset: next, Metadata: g.o.owner}}},
	})
	if err == nil {
		err = commitError(resp, g.topic, partition)
	}
	if err == nil {
		return nil
	}
	g.mu.Lock()
	stillOwned := g.gen == gen && g.owned[partition]
	g.mu.Unlock()
	if !stillOwned || errors.Is(err, kafka.IllegalGeneration) || errors.Is(err, kafka.UnknownMemberId) ||
		errors.Is(err, kafka.RebalanceInProgress) || errors.Is(err, kafka.FencedInstanceID) {
		return fmt.Errorf("commit %s partition %d offset %d in generation %d: %w (%w)", g.topic, partition, next, gen.ID, ErrNotOwner, err)
	}
	return fmt.Errorf("commit %s partition %d offset %d in generation %d: %w", g.topic, partition, next, gen.ID, err)
}

// commitError is the partition's error in an OffsetCommit response.
func commitError(resp *kafka.OffsetCommitResponse, topic string, partition int) error {
	for _, p := range resp.Topics[topic] {
		if p.Partition == partition {
			return p.Error
		}
	}
	return fmt.Errorf("no answer for the partition")
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// brokerError reports one failed broker operation (WithBrokerErrors).
func (g *Group) brokerError(op string) {
	if g.o.brokerErr != nil {
		g.o.brokerErr(op)
	}
}
