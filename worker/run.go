package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/nerstream/nerstream/internal/config"
	"github.com/nerstream/nerstream/internal/metrics"
	"github.com/nerstream/nerstream/internal/ner"
	"github.com/nerstream/nerstream/internal/queue"
	"github.com/nerstream/nerstream/internal/sink"
	"github.com/nerstream/nerstream/internal/stream"
)

// runFlags are the settings of `worker run`.
type runFlags struct {
	model          modelFlags
	enrich         enrichFlags
	kafka          queue.Config
	topic, group   string
	out, from, dlq string
	metricsAddr    string
	flushRecords   int
	flushBytes     int64
	flushInterval  time.Duration
	idleGrace      time.Duration
	shutdown       time.Duration
	session        time.Duration
	heartbeat      time.Duration
	joinBackoff    time.Duration
	rebalance      time.Duration
	idleInterval   time.Duration
	fetchMaxBytes  int
	logLevel       string
	limits         limitFlags
}

// defaultShutdownTimeout bounds draining after SIGTERM.
const defaultShutdownTimeout = 60 * time.Second

func (f *runFlags) register(fs *flag.FlagSet) {
	f.model.register(fs)
	f.enrich.register(fs)
	f.kafka.RegisterFlags(fs)
	fs.StringVar(&f.topic, "topic", "pubmed", "Kafka topic of document batches")
	fs.StringVar(&f.group, "group", "", "consumer group (default nerstream-<topic>-<model>-<version12>: one group per topic and model, so a new model replays the topic)")
	fs.StringVar(&f.out, "out", "", "output bucket URL: s3://bucket/prefix?endpoint=…&use_path_style=true, gs://, azblob://, file:///dir")
	fs.StringVar(&f.from, "from", queue.FromCommitted.String(), "where a partition with no output yet starts: committed (else earliest), earliest or latest")
	fs.StringVar(&f.dlq, "dlq-topic", "", "dead-letter topic (default <topic>.dlq)")
	fs.StringVar(&f.metricsAddr, "metrics-addr", ":9090", "address for /metrics and /healthz (empty: off)")
	fs.IntVar(&f.flushRecords, "flush-records", stream.DefaultFlushRecords, "Kafka records per output file (a record carries up to 64 documents; the open file is held in memory)")
	fs.Int64Var(&f.flushBytes, "flush-bytes", stream.DefaultFlushBytes, "record bytes per output file")
	fs.DurationVar(&f.flushInterval, "flush-interval", stream.DefaultFlushInterval, "a file never spans two record-timestamp buckets of this width")
	fs.DurationVar(&f.idleGrace, "idle-grace", stream.DefaultIdleGrace, "an idle partition's file is closed this long after its bucket ends")
	fs.DurationVar(&f.shutdown, "shutdown-timeout", defaultShutdownTimeout, "on SIGTERM, finish in-flight work and uploads within this time")
	fs.DurationVar(&f.session, "session-timeout", queue.DefaultSessionTimeout, "consumer group session timeout")
	fs.DurationVar(&f.heartbeat, "heartbeat-interval", queue.DefaultHeartbeatInterval, "consumer group heartbeat interval")
	fs.DurationVar(&f.joinBackoff, "join-backoff", queue.DefaultJoinGroupBackoff, "pause before retrying a failed group join")
	fs.DurationVar(&f.rebalance, "rebalance-timeout", queue.DefaultRebalanceTimeout, "how long the coordinator waits for members to rejoin in a rebalance")
	fs.DurationVar(&f.idleInterval, "idle-interval", queue.DefaultIdleInterval, "how often an idle partition is checked for a file to close")
	fs.IntVar(&f.fetchMaxBytes, "fetch-max-bytes", queue.DefaultFetchBytes, "bytes one fetch may return per partition; must exceed the largest record")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	f.limits.register(fs)
}

func newJSONLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func cmdRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var f runFlags
	f.register(fs)
	fs.Usage = config.Usage(fs, "worker run --brokers B --topic T --model DIR --out URL [--group G]")
	if err := config.Parse(fs, args); err != nil {
		return err
	}
	log, err := newJSONLogger(f.logLevel)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	started := false
	err = runWorker(ctx, f, log, func() { started = true })
	if err != nil && ctx.Err() != nil && !started {
		// SIGTERM during start-up: nothing was consumed, nothing is lost.
		log.Info("stopped during start-up", "err", err)
		return nil
	}
	return err
}

// runWorker is `worker run`: validate, build, run. ctx ending means "drain
// and exit". onReady, when set, is called once the worker consumes.
func runWorker(ctx context.Context, f runFlags, log *slog.Logger, onReady func()) error {
	if err := f.validate(); err != nil {
		return err
	}
	r, err := f.build(ctx, log)
	if err != nil {
		return err
	}
	defer r.close()
	return r.run(ctx, onReady)
}

// validate checks the flags without touching the network.
func (f *runFlags) validate() error {
	if len(f.kafka.Brokers) == 0 {
		return errors.New("--brokers (or NERSTREAM_BROKERS) is required")
	}
	if f.out == "" {
		return errors.New("--out (or NERSTREAM_OUT) is required")
	}
	if err := f.kafka.Validate(); err != nil {
		return err
	}
	if err := checkDurableOut(f.out); err != nil {
		return err
	}
	if _, err := f.limits.limits(); err != nil {
		return err
	}
	if _, err := queue.ParseFrom(f.from); err != nil {
		return err
	}
	if f.dlqTopic() == f.topic {
		return fmt.Errorf("--dlq-topic %q equals --topic %q: each dead letter would be consumed and dead-lettered again, without end; choose another dead-letter topic", f.dlqTopic(), f.topic)
	}
	if f.model.packing == "stream" {
		return errors.New("--packing stream makes a document's output depend on its neighbours in a batch, which breaks reproducible files; use document or sentence")
	}
	return nil
}

// dlqTopic is --dlq-topic, or <topic>.dlq when it is not set.
func (f *runFlags) dlqTopic() string {
	if f.dlq == "" {
		return f.topic + ".dlq"
	}
	return f.dlq
}

// checkDeadLetterNotConsumed refuses a dead-letter topic that the consumer
// group already consumes (another worker of the group reads it, or the
// group has committed offsets on it): its dead letters would come back to
// the group and be dead-lettered again, without end.
func checkDeadLetterNotConsumed(ctx context.Context, g *queue.Group, dlqTopic string) error {
	topics, err := g.ConsumedTopics(ctx)
	if err != nil {
		return err
	}
	if slices.Contains(topics, dlqTopic) {
		return fmt.Errorf("--dlq-topic %q is consumed by consumer group %q (it consumes %s): each dead letter would be consumed and dead-lettered again, without end; choose another dead-letter topic or group",
			dlqTopic, g.ID(), strings.Join(topics, ", "))
	}
	return nil
}

// running is a built worker: every part wired, nothing consumed yet.
type running struct {
	log      *slog.Logger
	m        *metrics.Metrics
	shutdown time.Duration
	info     []any // logged once running
	closers  []func()
	ann      *ner.Annotator
	w        *stream.Worker
	g        *queue.Group
}

func (r *running) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

// build opens the model, the bucket, the dead-letter writer and the group,
// failing fast with clear errors: an unusable bucket or broker stops start-up.
func (f *runFlags) build(ctx context.Context, log *slog.Logger) (_ *running, err error) {
	r := &running{log: log, m: metrics.New(), shutdown: f.shutdown}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if err := r.m.Serve(ctx, f.metricsAddr, log); err != nil {
		return nil, err
	}
	en, err := f.enrich.open()
	if err != nil {
		return nil, err
	}
	b, sess, ann, err := f.model.open(log)
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, func() { sess.Close() })
	ann.OnBatch = r.m.ObserveBatch
	r.ann = ann

	store, err := sink.OpenBucket(ctx, f.out, sink.WithLogger(log))
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, func() { store.Close() })
	modelDir, err := sink.ModelDir(b.Name, b.Version)
	if err != nil {
		return nil, err
	}
	if _, _, err := store.LastOffset(ctx, modelDir, f.topic, 0); err != nil {
		return nil, fmt.Errorf("output %s is not usable: %w", f.out, err)
	}
	settings, err := f.outputSettings(b)
	if err != nil {
		return nil, err
	}
	if err := store.ClaimSettings(ctx, modelDir, settings); err != nil {
		if errors.Is(err, sink.ErrOtherSettings) {
			err = fmt.Errorf("%w; use the recorded settings, or another --out (or its prefix) for these", err)
		}
		return nil, err
	}
	group := f.group
	if group == "" {
		group = defaultGroup(f.topic, b.ID())
	}
	dlqTopic := f.dlqTopic()
	dlq, err := queue.NewDeadLetter(ctx, f.kafka.Brokers, dlqTopic, queue.WithConfig(f.kafka), queue.WithLogger(log))
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, func() { dlq.Close() })

	limits, _ := f.limits.limits() // validated
	r.w, err = stream.New(stream.Config{
		Topic: f.topic, ModelName: b.Name, ModelVersion: b.Version, ModelDir: modelDir,
		FlushRecords: f.flushRecords, FlushBytes: f.flushBytes, FlushInterval: f.flushInterval, IdleGrace: f.idleGrace,
		Enrich: en, Limits: limits,
	}, ann, store, dlq, r.m, log)
	if err != nil {
		return nil, err
	}
	from, _ := queue.ParseFrom(f.from) // validated
	r.g, err = queue.NewGroup(f.kafka.Brokers, f.topic, group,
		queue.WithConfig(f.kafka), queue.WithLogger(log), queue.WithFrom(from),
		queue.WithSessionTimeout(f.session), queue.WithHeartbeatInterval(f.heartbeat),
		queue.WithJoinGroupBackoff(f.joinBackoff), queue.WithRebalanceTimeout(f.rebalance), queue.WithIdleInterval(f.idleInterval),
		queue.WithFetchMaxBytes(f.fetchMaxBytes), queue.WithStuckReporter(queue.DefaultStuckAfter, r.m.SetStuck),
		queue.WithOwner(groupOwner(b.Name, b.Version)),
		queue.WithBrokerErrors(func(op string) { r.m.BrokerErrors.WithLabelValues(op).Inc() }))
	if err != nil {
		return nil, err
	}
	if err := r.g.Ping(ctx); err != nil {
		return nil, foreignGroupHint(err)
	}
	if err := checkDeadLetterNotConsumed(ctx, r.g, dlqTopic); err != nil {
		return nil, err
	}
	r.info = []any{"model", b.ID(), "device", sess.Device().String(), "topic", f.topic, "group", group,
		"out", f.out, "dlq", dlqTopic, "flush_records", f.flushRecords, "flush_interval", f.flushInterval.String()}
	return r, nil
}

// run is the worker's lifecycle. Three parts run together: the consumer
// group (fetch → Records), the stream worker (annotate → files → uploads)
// and the lag reporter. The first of ctx ending or a part failing starts the
// shutdown: leave the group (bounded by half the shutdown budget, since a
// JoinGroup held by the broker can hang), stop the worker's input, and let
// it upload every file whose boundary is final within the shutdown budget.
// The worker's own context outlives ctx so that this drain can happen.
func (r *running) run(ctx context.Context, onReady func()) error {
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	eg, gctx := errgroup.WithContext(ctx)
	left, drained := make(chan struct{}), make(chan struct{})
	eg.Go(func() error { // consume
		defer close(left)
		if err := r.g.Run(gctx, r.w); err != nil && ctx.Err() == nil {
			return fmt.Errorf("consumer group: %w", foreignGroupHint(err))
		}
		return nil
	})
	eg.Go(func() error { // annotate, write, upload
		defer close(drained)
		if err := r.w.Run(wctx); err != nil && wctx.Err() == nil {
			return err
		}
		return nil
	})
	eg.Go(func() error { // report lag until shutdown
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
				r.m.SetLag(r.g.Lag())
			}
		}
	})
	eg.Go(func() error { // shut down
		<-gctx.Done()
		r.m.SetReady(false)
		if ctx.Err() != nil {
			r.log.Info("shutting down: stop fetching, drain, upload final files", "timeout", r.shutdown.String())
		}
		deadline := time.NewTimer(r.shutdown)
		defer deadline.Stop()
		select {
		case <-left:
		case <-time.After(r.shutdown / 2):
			r.log.Warn("consumer group did not leave in time; draining anyway")
		}
		r.w.Stop() // safe even if the group is still winding down
		select {
		case <-drained:
			return nil
		case <-deadline.C:
			wcancel()
			return fmt.Errorf("shutdown took longer than %s; unfinished files are re-read by the next owner", r.shutdown)
		}
	})
	r.log.Info("worker running", r.info...)
	r.m.SetReady(true)
	if onReady != nil {
		onReady()
	}
	err := eg.Wait()
	st := r.ann.Stats()
	r.log.Info("worker stopped", "docs", st.Docs, "windows", st.Windows, "chunks", st.Chunks, "slot_utilization", st.SlotUtilization())
	return err
}
