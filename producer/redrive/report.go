package redrive

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/nerstream/nerstream/internal/document"
)

// Why a dead letter, or one of its documents, was not redriven.
const (
	SkipNotSelected     = "not_selected"     // its reason is not among --reason
	SkipAlreadyRedriven = "already_redriven" // the manifest lists it
	SkipExcerptOnly     = "excerpt_only"     // document_too_large: only an excerpt was kept
	SkipTruncated       = "truncated"        // the value was cut to fit the dead-letter topic
	SkipMalformed       = "malformed"        // still not a readable batch or document
	SkipInvalid         = "invalid"          // a document invalid under today's limits
	SkipDuplicate       = "duplicate"        // same target, id and version already redriven in this run
	SkipNoTarget        = "no_target"        // no --to and no nerstream-source-topic header
	SkipTargetIsDLQ     = "target_is_dlq"    // its source topic is the dead-letter topic itself
)

// ReasonUnlabelled stands for dead letters without the
// nerstream-dead-letter-reason header (written by workers before it
// existed). They are selected only when no reason is given.
const ReasonUnlabelled document.DeadLetterReason = "unlabelled"

// Tally counts documents (or dead letters) of one outcome.
type Tally struct {
	// Count is the number of documents; a dead letter that could not be
	// decoded counts as one.
	Count int `json:"count"`
	// ByReason splits Count by dead-letter reason.
	ByReason map[document.DeadLetterReason]int `json:"by_reason"`
	// IDs are the first document ids (or partition@offset when no id is
	// known), at most the report's limit.
	IDs []string `json:"ids"`
	// Example is the first cause in words, for skips.
	Example string `json:"example,omitempty"`
}

// Report is what Run did.
type Report struct {
	From        string `json:"from"`
	To          string `json:"to,omitempty"`
	DryRun      bool   `json:"dry_run"`
	DeadLetters int    `json:"dead_letters"`
	// End is the snapshot's end offset per partition of From.
	End map[int]int64 `json:"end"`
	// Redriven counts the documents published (DryRun: that would be).
	Redriven Tally `json:"redriven"`
	// Batches is the number of batches published, Topics the documents
	// per target topic.
	Batches int            `json:"batches"`
	Topics  map[string]int `json:"topics"`
	// Skipped counts what was not redriven, by cause (the Skip* values).
	Skipped map[string]*Tally `json:"skipped"`

	maxIDs int
}

func newReport(from, to string, dryRun bool, maxIDs int) *Report {
	return &Report{From: from, To: to, DryRun: dryRun, Redriven: Tally{ByReason: map[document.DeadLetterReason]int{}},
		Topics: map[string]int{}, Skipped: map[string]*Tally{}, maxIDs: maxIDs}
}

func (t *Tally) add(reason document.DeadLetterReason, id string, maxIDs int) {
	t.Count++
	t.ByReason[reason]++
	if len(t.IDs) < maxIDs {
		t.IDs = append(t.IDs, id)
	}
}

func (r *Report) skip(why string, reason document.DeadLetterReason, id string, cause error) {
	t := r.Skipped[why]
	if t == nil {
		t = &Tally{ByReason: map[document.DeadLetterReason]int{}}
		r.Skipped[why] = t
	}
	t.add(reason, id, r.maxIDs)
	if t.Example == "" && cause != nil {
		t.Example = fmt.Sprintf("%s: %v", id, cause)
	}
}

// Log writes the report to log: one summary line and one line per skip
// cause.
func (r *Report) Log(log *slog.Logger) {
	log.Info("redrive summary", "from", r.From, "to", r.To, "dry_run", r.DryRun, "dead_letters", r.DeadLetters,
		"redriven", r.Redriven.Count, "by_reason", fmtCounts(r.Redriven.ByReason), "batches", r.Batches,
		"topics", r.Topics, "first_ids", strings.Join(r.Redriven.IDs, ","))
	whys := make([]string, 0, len(r.Skipped))
	for w := range r.Skipped {
		whys = append(whys, w)
	}
	slices.Sort(whys)
	for _, w := range whys {
		t := r.Skipped[w]
		log.Warn("redrive skipped", "why", w, "count", t.Count, "by_reason", fmtCounts(t.ByReason),
			"first_ids", strings.Join(t.IDs, ","), "example", t.Example)
	}
}

func fmtCounts(m map[document.DeadLetterReason]int) string {
	parts := make([]string, 0, len(m))
	for r, n := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", r, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
