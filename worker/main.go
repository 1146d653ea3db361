// Command worker annotates documents with a token-classification model.
//
//	worker annotate  documents from a file or stdin → entity chunks (JSONL or a table)
//	worker eval      score the full pipeline against gold entities (JNLPBA docs or IOB2)
//	worker bench     throughput of the pipeline versus the model alone
//	worker run       consume a Kafka topic in a consumer group → Parquet on object storage
//	worker demo      the whole system in one process tree on the embedded default
//	worker export    Parquet output (current state of each document) → PubTator or BioC
//
// Every flag has an environment twin (NERSTREAM_<FLAG>); see `worker CMD -h`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

var commands = map[string]func(ctx context.Context, args []string) error{
	"annotate": cmdAnnotate,
	"eval":     cmdEval,
	"bench":    cmdBench,
	"run":      cmdRun,
	"demo":     cmdDemo,
	"export":   cmdExport,
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		fmt.Fprintln(os.Stderr, "usage: worker annotate|eval|bench|run|demo|export [flags]   (worker CMD -h for flags)")
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "worker: unknown command %q (want annotate, eval, bench, run, demo or export)\n", os.Args[1])
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd(ctx, os.Args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "worker %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
