package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/nerstream/nerstream/internal/document"
	"github.com/nerstream/nerstream/internal/model"
	"github.com/nerstream/nerstream/internal/ner"
	"github.com/nerstream/nerstream/internal/queue"
)

// limitFlags are the input limits of every command that reads documents;
// the defaults are document.DefaultLimits, the producer's too (one source).
type limitFlags struct {
	maxDocBytes, maxBatchBytes, maxDocs int
}

func (l *limitFlags) register(fs *flag.FlagSet) {
	d := document.DefaultLimits()
	registerMaxDocBytes(fs, &l.maxDocBytes)
	fs.IntVar(&l.maxBatchBytes, "max-batch-bytes", d.MaxBatchBytes, "largest batch message in bytes (must be at least the producer's --batch-bytes; larger batches are split into per-document dead letters)")
	fs.IntVar(&l.maxDocs, "max-docs-per-batch", d.MaxDocs, "most documents in one batch message")
}

// registerMaxDocBytes is the one --max-doc-bytes flag: worker run's limit,
// shared by annotate and eval so that they refuse what run would.
func registerMaxDocBytes(fs *flag.FlagSet, p *int) {
	fs.IntVar(p, "max-doc-bytes", document.DefaultMaxDocBytes,
		"largest title+text of one document in bytes; a larger one is refused with its id (dead-lettered by worker run; raise it to annotate it)")
}

func (l limitFlags) limits() (document.Limits, error) {
	if l.maxDocBytes <= 0 || l.maxBatchBytes <= 0 || l.maxDocs <= 0 {
		return document.Limits{}, fmt.Errorf("--max-doc-bytes %d, --max-batch-bytes %d, --max-docs-per-batch %d: each must be positive",
			l.maxDocBytes, l.maxBatchBytes, l.maxDocs)
	}
	return document.Limits{MaxDocBytes: l.maxDocBytes, MaxBatchBytes: l.maxBatchBytes, MaxDocs: l.maxDocs}, nil
}

// nonDurableSchemes are bucket schemes whose contents vanish at exit: worker
// run commits Kafka offsets after uploads, so such a bucket would lose data.
var nonDurableSchemes = map[string]bool{"mem": true}

// checkDurableOut refuses an output bucket that does not outlive the process.
func checkDurableOut(out string) error {
	u, err := url.Parse(out)
	if err != nil {
		return fmt.Errorf("--out %q: %w", out, err)
	}
	if nonDurableSchemes[strings.ToLower(u.Scheme)] {
		return fmt.Errorf("--out %q: a %s:// bucket is not durable (its files vanish at exit while Kafka commits move on); use s3://, gs://, azblob:// or file://", out, u.Scheme)
	}
	return nil
}

// defaultGroup is the consumer group of worker run when --group is not
// given: one per topic and model version, so a new model replays the topic
// and two topics never share offsets.
func defaultGroup(topic, modelID string) string {
	return "nerstream-" + topic + "-" + modelID
}

// groupOwner is the owner that worker run's commits carry
// (queue.WithOwner): the model's name and full version. A group whose
// offsets another model, or another version of this one, committed is
// refused, since the FromCommitted start would skip that model's work.
func groupOwner(name, version string) string {
	return "nerstream model " + name + " version " + version
}

// foreignGroupHint adds the way out to a queue.ErrForeignOwner error.
func foreignGroupHint(err error) error {
	if !errors.Is(err, queue.ErrForeignOwner) {
		return err
	}
	return fmt.Errorf("%w; each model version needs its own consumer group: leave --group out for the default nerstream-<topic>-<model>-<version12>, or name a new group", err)
}

// outputSettings is the JSON object of worker run's settings that change
// what its files hold, beside the model bundle (whose version, part of the
// output directory, covers the bundle's own files): sink.Store.ClaimSettings
// keeps one directory's files to one set. Names are canonical (parsed, then
// printed), the gene dictionary is named by its content's SHA-256.
func (f *runFlags) outputSettings(b *model.Bundle) ([]byte, error) {
	dec := f.model.decoding
	if dec == "" {
		dec = b.Decoding
	}
	d, err := ner.ParseDecoding(dec)
	if err != nil {
		return nil, err
	}
	a, err := ner.ParseAggregation(f.model.aggregation)
	if err != nil {
		return nil, err
	}
	p, err := ner.ParsePacking(f.model.packing)
	if err != nil {
		return nil, err
	}
	labels := []string{}
	for _, l := range strings.Split(f.model.labels, ",") {
		if l = strings.TrimSpace(l); l != "" {
			labels = append(labels, l)
		}
	}
	slices.Sort(labels)
	genes := ""
	if f.enrich.genes != "" {
		if genes, err = fileSHA256(f.enrich.genes); err != nil {
			return nil, fmt.Errorf("--genes: %w", err)
		}
	}
	return json.Marshal(map[string]any{
		"decoding": d.String(), "aggregation": a.String(), "packing": p.String(), "overlap": f.model.overlap,
		"labels": labels, "min_confidence": f.model.minConf,
		"abbreviations": f.enrich.abbrev, "consistency": f.enrich.consist, "genes_sha256": genes,
	})
}

func fileSHA256(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
