package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/nerstream/nerstream/internal/config"
	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/queue"
	"github.com/nerstream/nerstream/producer/ingest"
	"github.com/nerstream/nerstream/producer/redrive"
)

// redriveFlags are the settings of `producer redrive`.
type redriveFlags struct {
	kafka       queue.Config
	from, to    string
	reasons     []document.DeadLetterReason
	batchDocs   int
	batchBytes  int
	maxDocBytes int
	manifest    string
	report      string
	ids         int
	dryRun      bool
	logLevel    string
}

const redriveSynopsis = `producer redrive --from TOPIC.dlq [--reason R[,R]] [--to TOPIC] --redrive-manifest PATH|URL [flags]

Re-publishes the documents of dead letters whose cause is fixed (a worker's
--max-batch-bytes/--max-doc-bytes raised, a model failure fixed) as normal
batches within the limits below. Reads TOPIC.dlq from the start to its end at
start-up, outside any consumer group; publishes each document to its dead
letter's source topic (or --to). Dead letters already redriven (--redrive-manifest)
are skipped, so a rerun publishes nothing twice; document_too_large dead
letters hold only an excerpt and are reported, not redriven.
Reasons: malformed_batch, batch_too_large, invalid_document, document_too_large, model_failure.

example:
  producer redrive --brokers kafka:9092 --from pubmed.dlq --reason batch_too_large,model_failure \
      --redrive-manifest s3://lake/redrive/pubmed.dlq.json --report redrive.json`

func (f *redriveFlags) register(fs *flag.FlagSet) {
	f.kafka.RegisterFlags(fs)
	fs.StringVar(&f.from, "from", "", "dead-letter topic to redrive (required), e.g. pubmed.dlq")
	fs.StringVar(&f.to, "to", "", "topic to publish to (default: each dead letter's nerstream-source-topic); never the dead-letter topic")
	fs.Func("reason", "dead-letter reasons to redrive, repeatable or comma-separated (default: all)", func(s string) error {
		rs, err := document.ParseDeadLetterReasons(s)
		f.reasons = append(f.reasons, rs...)
		return err
	})
	fs.IntVar(&f.batchDocs, "batch-docs", document.DefaultBatchDocs, "documents per batch message at most")
	fs.IntVar(&f.batchBytes, "batch-bytes", document.DefaultMaxBatchBytes, "encoded bytes per batch message at most (keep under the workers' --max-batch-bytes)")
	fs.IntVar(&f.maxDocBytes, "max-doc-bytes", document.DefaultMaxDocBytes, "largest title+text redriven; larger documents are reported, not published")
	fs.StringVar(&f.manifest, "redrive-manifest", "", "path or bucket URL (as --manifest of pubmed) of the redrive manifest, recording the dead letters redriven (required unless --dry-run; not the ingest manifest)")
	fs.StringVar(&f.report, "report", "", "write the report as JSON to this file (\"-\": stdout)")
	fs.IntVar(&f.ids, "ids", 10, "document ids listed per outcome in the report")
	fs.BoolVar(&f.dryRun, "dry-run", false, "read, decode, validate and batch without publishing or writing the manifest")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
}

func runRedrive(ctx context.Context, args []string, tty bool) error {
	fs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	var f redriveFlags
	f.register(fs)
	fs.Usage = config.Usage(fs, redriveSynopsis)
	if err := config.Parse(fs, args); err != nil {
		return err
	}
	log, err := newLogger(f.logLevel, tty)
	if err != nil {
		return err
	}
	if err := f.validate(fs); err != nil {
		return err
	}
	checkWorkerLimits(log, f.batchDocs, f.batchBytes, f.maxDocBytes)
	m := redrive.NewManifest(nil)
	if f.manifest != "" {
		store, closeStore, err := openManifest(ctx, f.manifest, f.dryRun)
		if err != nil {
			return err
		}
		defer closeStore()
		if m, err = redrive.LoadManifest(ctx, store); err != nil {
			return err
		}
	}
	pubs, closePubs := redrivePublishers(&f, log)
	defer closePubs()
	read := func(ctx context.Context, fn func(queue.Record) error) (map[int]int64, error) {
		return queue.ReadSnapshot(ctx, f.kafka, f.from, fn)
	}
	rep, runErr := redrive.Run(ctx, read, pubs, redrive.Options{From: f.from, To: f.to, Reasons: f.reasons,
		Limits:   document.Limits{MaxDocs: f.batchDocs, MaxBatchBytes: f.batchBytes, MaxDocBytes: f.maxDocBytes},
		Manifest: m, DryRun: f.dryRun, MaxIDs: f.ids, Log: log})
	if rep != nil {
		rep.Log(log)
		if err := writeReport(f.report, rep); err != nil {
			return errors.Join(runErr, err)
		}
	}
	return runErr
}

func (f *redriveFlags) validate(fs *flag.FlagSet) error {
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q (redrive reads --from)", fs.Args()))
	}
	if f.from == "" {
		errs = append(errs, errors.New("--from (the dead-letter topic) is required"))
	}
	if f.to != "" && f.to == f.from {
		errs = append(errs, fmt.Errorf("--to %s is the dead-letter topic itself", f.to))
	}
	if f.manifest == "" && !f.dryRun {
		errs = append(errs, errors.New("--redrive-manifest is required unless --dry-run: it records what was redriven so that a rerun publishes nothing twice"))
	}
	if len(f.kafka.Brokers) == 0 {
		errs = append(errs, errors.New("--brokers (or NERSTREAM_BROKERS) is required"))
	} else if err := f.kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if f.ids < 0 {
		errs = append(errs, fmt.Errorf("--ids %d must not be negative", f.ids))
	}
	return errors.Join(errs...)
}

// redrivePublishers returns publishers for target topics, opened on first
// use (an existing topic only: redrive never creates one), and their close.
func redrivePublishers(f *redriveFlags, log interface{ Warn(string, ...any) }) (redrive.PublisherFunc, func()) {
	var opened []*queue.Publisher
	open := func(ctx context.Context, topic string) (ingest.Publisher, error) {
		p, err := queue.NewPublisher(ctx, f.kafka.Brokers, topic, queue.WithConfig(f.kafka), queue.WithCreateTopic(false),
			queue.WithMaxMessageBytes(max(queue.DefaultMaxMessageBytes, f.batchBytes+4096)))
		if err != nil {
			return nil, err
		}
		opened = append(opened, p)
		return p, nil
	}
	return open, func() {
		for _, p := range opened {
			if err := p.Close(); err != nil {
				log.Warn("closing the publisher", "topic", p.Topic(), "err", err)
			}
		}
	}
}

func writeReport(path string, rep *redrive.Report) error {
	if path == "" {
		return nil
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	data = append(data, '\n')
	if path == "-" {
		_, err = os.Stdout.Write(data)
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("report %s: %w", strings.TrimSpace(path), err)
	}
	return nil
}
