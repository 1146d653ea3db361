package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/nerstream/nerstream/internal/config"
	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/queue"
	"github.com/nerstream/nerstream/producer/ingest"
)

// flags are the settings of both subcommands.
type flags struct {
	kafka             queue.Config
	topic             string
	partitions        int
	replicationFactor int
	createTopic       bool
	batchDocs         int
	batchBytes        int
	maxDocBytes       int
	inflight          int
	manifest          string
	rejects           string
	progress          string
	verify            bool
	dryRun            bool
	logLevel          string
}

func (f *flags) register(fs *flag.FlagSet) {
	f.kafka.RegisterFlags(fs)
	fs.StringVar(&f.topic, "topic", "pubmed", "Kafka topic of document batches")
	fs.IntVar(&f.partitions, "partitions", queue.DefaultPartitions, "partitions of the topic if it has to be created")
	fs.IntVar(&f.replicationFactor, "replication-factor", 1, "replication factor of the topic if it has to be created (3 on a real cluster)")
	fs.BoolVar(&f.createTopic, "create-topic", true, "create the topic when it does not exist")
	fs.IntVar(&f.batchDocs, "batch-docs", document.DefaultBatchDocs, "documents per batch message at most")
	fs.IntVar(&f.batchBytes, "batch-bytes", document.DefaultMaxBatchBytes, "encoded bytes per batch message at most (keep under the broker's message.max.bytes)")
	fs.IntVar(&f.maxDocBytes, "max-doc-bytes", document.DefaultMaxDocBytes, "largest title+text accepted; larger documents are rejected")
	fs.IntVar(&f.inflight, "inflight", 16, "batches per synchronous publish call; the manifest advances after each call")
	fs.StringVar(&f.manifest, "manifest", "", "manifest path or bucket URL (s3://bucket/key.json?endpoint=…): skip published files, resume half-published ones")
	fs.StringVar(&f.rejects, "rejects", "", "append rejected records to this file as JSON lines (\"-\": stderr; empty: count only)")
	fs.StringVar(&f.progress, "progress", "auto", "progress bar: auto (on a terminal), on or off")
	fs.BoolVar(&f.verify, "verify", false, "hash finished files too and republish any whose content changed")
	fs.BoolVar(&f.dryRun, "dry-run", false, "parse, validate and batch without publishing or writing the manifest")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
}

func run(ctx context.Context, format ingest.Format, args []string, tty bool) error {
	fs := flag.NewFlagSet(string(format), flag.ContinueOnError)
	var f flags
	f.register(fs)
	fs.Usage = config.Usage(fs, "producer "+string(format)+" [flags] FILES|DIRS...")
	if err := config.Parse(fs, args); err != nil {
		return err
	}
	log, err := newLogger(f.logLevel, tty)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no input files or directories")
	}
	files, skipped, err := ingest.Inputs(format, fs.Args())
	for _, p := range skipped {
		log.Warn("skipping input: not a "+string(format)+" file", "path", p)
	}
	if err != nil {
		return err
	}
	checkWorkerLimits(log, f.batchDocs, f.batchBytes, f.maxDocBytes)
	showBar := f.progress == "on" || (f.progress == "auto" && tty)
	if f.progress != "auto" && f.progress != "on" && f.progress != "off" {
		return fmt.Errorf("--progress %q: want auto, on or off", f.progress)
	}

	opts := []ingest.Option{ingest.WithBatchDocs(f.batchDocs), ingest.WithBatchBytes(f.batchBytes),
		ingest.WithMaxDocBytes(f.maxDocBytes), ingest.WithInflight(f.inflight), ingest.WithTopic(f.topic),
		ingest.WithVerify(f.verify), ingest.WithLogger(log)}
	if f.manifest != "" {
		store, closeStore, err := openManifest(ctx, f.manifest, f.dryRun)
		if err != nil {
			return err
		}
		defer closeStore()
		m, err := ingest.LoadManifest(ctx, store)
		if err != nil {
			return err
		}
		opts = append(opts, ingest.WithManifest(m))
	}
	rejects, closeRejects, err := openRejects(f.rejects)
	if err != nil {
		return err
	}
	defer closeRejects()
	opts = append(opts, ingest.WithRejects(rejects))
	if showBar {
		opts = append(opts, ingest.WithProgress(newBar(os.Stderr)))
	}

	var pub ingest.Publisher = discard{}
	if !f.dryRun {
		p, closePub, err := newPublisher(ctx, &f, log)
		if err != nil {
			return err
		}
		defer func() {
			if err := closePub(); err != nil {
				log.Warn("closing the publisher", "err", err)
			}
		}()
		pub = p
	}
	sum, runErr := ingest.Run(ctx, pub, format, files, opts...)
	log.Info("producer summary", "topic", f.topic, "dry_run", f.dryRun,
		"files", sum.Files, "published", sum.Published, "skipped", sum.Skipped, "resumed", sum.Resumed, "failed", sum.Failed,
		"docs", sum.Docs, "batches", sum.Batches, "already_published", sum.AlreadyPublished, "rejected", sum.Rejected,
		"mb", fmt.Sprintf("%.1f", float64(sum.Bytes)/1e6), "mb_per_s", fmt.Sprintf("%.1f", float64(sum.Bytes)/1e6/max(sum.Elapsed.Seconds(), 1e-9)),
		"elapsed", sum.Elapsed.Round(time.Millisecond).String())
	if sum.Rejected > 0 && f.rejects == "" {
		log.Warn("records were rejected; pass --rejects FILE to keep them", "rejected", sum.Rejected)
	}
	return runErr
}

// newPublisher is the one place where the producer meets Kafka: it returns
// an internal/queue publisher for the topic (created if missing and allowed)
// and its close function.
func newPublisher(ctx context.Context, f *flags, log *slog.Logger) (ingest.Publisher, func() error, error) {
	if len(f.kafka.Brokers) == 0 {
		return nil, nil, errors.New("--brokers (or NERSTREAM_BROKERS) is required unless --dry-run")
	}
	if err := f.kafka.Validate(); err != nil {
		return nil, nil, err
	}
	p, err := queue.NewPublisher(ctx, f.kafka.Brokers, f.topic,
		queue.WithConfig(f.kafka), queue.WithLogger(log),
		queue.WithPartitions(f.partitions), queue.WithReplicationFactor(f.replicationFactor),
		queue.WithCreateTopic(f.createTopic),
		queue.WithMaxMessageBytes(max(queue.DefaultMaxMessageBytes, f.batchBytes+4096)))
	if err != nil {
		return nil, nil, err
	}
	return p, p.Close, nil
}

// discard is the publisher of --dry-run.
type discard struct{}

func (discard) Publish(context.Context, ...queue.Message) error { return nil }

// readOnly is a manifest store whose saves are dropped (--dry-run).
type readOnly struct{ ingest.ManifestStore }

func (readOnly) Save(context.Context, []byte) error { return nil }

// openManifest opens the manifest store at url (ingest.OpenManifestStore),
// read-only under --dry-run.
func openManifest(ctx context.Context, url string, dryRun bool) (ingest.ManifestStore, func() error, error) {
	store, closeStore, err := ingest.OpenManifestStore(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	if dryRun {
		store = readOnly{store}
	}
	return store, closeStore, nil
}

func openRejects(path string) (*document.RejectSink, func() error, error) {
	switch path {
	case "":
		return document.NewRejectSink(nil), func() error { return nil }, nil
	case "-":
		return document.NewRejectSink(os.Stderr), func() error { return nil }, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("rejects file: %w", err)
	}
	return document.NewRejectSink(f), f.Close, nil
}

func newLogger(level string, tty bool) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: l}
	var w io.Writer = os.Stderr
	if tty {
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return slog.New(slog.NewJSONHandler(w, opts)), nil
}
