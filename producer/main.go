package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/nerstream/nerstream/producer/ingest"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		fmt.Fprintln(os.Stderr, "usage: producer pubmed|jsonl|pmc [flags] FILES|DIRS...   (producer CMD -h for flags)")
		fmt.Fprintln(os.Stderr, "       producer redrive --from TOPIC.dlq [--reason R] [--to TOPIC] --redrive-manifest PATH|URL [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tty := term.IsTerminal(int(os.Stderr.Fd()))
	var format ingest.Format
	switch os.Args[1] {
	case "redrive":
		exit(runRedrive(ctx, os.Args[2:], tty), tty)
		return
	case "pubmed":
		format = ingest.FormatPubMed
	case "jsonl":
		format = ingest.FormatJSONL
	case "pmc":
		format = ingest.FormatPMC
	default:
		fmt.Fprintf(os.Stderr, "producer: unknown command %q (want pubmed, jsonl, pmc or redrive)\n", os.Args[1])
		os.Exit(2)
	}
	exit(run(ctx, format, os.Args[2:], tty), tty)
}

// exit ends the process after a command: 0 for nil or -h, else 1 with the
// error logged (and printed plainly on a terminal).
func exit(err error, tty bool) {
	if err == nil {
		return
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	slog.Error("producer "+os.Args[1]+" failed", "err", err)
	if tty {
		fmt.Fprintf(os.Stderr, "producer %s: %v\n", os.Args[1], err)
	}
	os.Exit(1)
}
