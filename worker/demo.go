package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nerstream/nerstream/internal/config"
	"github.com/nerstream/nerstream/internal/demo"
)

// cmdDemo runs the whole system in one process tree (see package demo).
func cmdDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	cfg := demo.Config{Stdout: os.Stdout, Stderr: os.Stderr}
	fs.StringVar(&cfg.Model, "model", "", modelHelp)
	brokers := fs.String("brokers", "", "bootstrap brokers of an external Kafka cluster, comma-separated (empty: the embedded broker)")
	fs.StringVar(&cfg.DataDir, "data-dir", "var/demo", "broker data, output bucket, manifest and logs (a second run resumes)")
	fs.StringVar(&cfg.Input, "input", "testdata/pubmed", "PubMed baseline/update files or directories (comma-separated)")
	fs.IntVar(&cfg.Workers, "workers", 2, "worker processes in the consumer group")
	fs.IntVar(&cfg.Partitions, "partitions", 4, "partitions of the demo topic")
	fs.StringVar(&cfg.Topic, "topic", "pubmed", "topic name")
	fs.StringVar(&cfg.Gold, "gold", "testdata/jnlpba/devel.docs.jsonl", "gold entities to score the output against (empty: skip)")
	fs.DurationVar(&cfg.Timeout, "timeout", 15*time.Minute, "give up after this long")
	fs.Usage = config.Usage(fs, "worker demo [--model DIR] [--data-dir var/demo] [--workers 2] [--brokers HOST:PORT]")
	if err := config.Parse(fs, args); err != nil {
		return err
	}
	cfg.Model = bundleDir(cfg.Model)
	for _, b := range strings.Split(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.Brokers = append(cfg.Brokers, b)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.WorkerBin, cfg.ProducerBin = exe, filepath.Join(filepath.Dir(exe), "producer")
	return demo.Run(ctx, cfg)
}
