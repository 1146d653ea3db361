package queue

import (
	"time"

	"github.com/cenkalti/backoff/v5"
)

// StuckFunc is told when a partition cannot progress: stuck is true once
// fetching or decoding at offset has failed continuously for the stuck
// threshold, and false again when a fetch succeeds.
type StuckFunc func(partition int, offset int64, stuck bool, err error)

type stuckSettings struct {
	after time.Duration
	fn    StuckFunc
}

// DefaultStuckAfter is how long a partition may fail every fetch before it
// is reported stuck.
const DefaultStuckAfter = time.Minute

// WithStuckReporter calls fn when a partition has failed every fetch or
// decode for at least after (DefaultStuckAfter when 0) — a corrupt record
// batch, an unreachable leader — and again when it recovers. The group also
// logs one error line when a partition becomes stuck. The fetch loop keeps
// retrying: the operator decides (see docs/operations.md, runbooks).
func WithStuckReporter(after time.Duration, fn StuckFunc) GroupSetting {
	return func(g *groupOptions) { g.stuck = stuckSettings{after: after, fn: fn} }
}

// failureRun tracks one partition's run of consecutive failed fetches.
type failureRun struct {
	since    time.Time
	reported bool
	// retry paces the retries (retryAfter); logged and unlogged rate-limit
	// their log lines.
	retry    *backoff.ExponentialBackOff
	logged   time.Time
	unlogged int
}

// Retries of a failing partition back off exponentially from the group's
// retry backoff to maxRetryBackoff; a failing partition logs its first
// failure, then one line per failureLogEvery with the count in between.
const (
	maxRetryBackoff = 5 * time.Second
	failureLogEvery = time.Minute
)

// retryAfter records a failed fetch or decode (what) of partition at offset,
// logs it — the first of a run at once, later ones at most once per
// failureLogEvery with how many failed since — and returns how long to wait
// before the next try. The stuck report (failed) is unchanged.
func (g *Group) retryAfter(f *failureRun, what string, partition int, offset int64, err error, attrs ...any) time.Duration {
	if f.retry == nil {
		f.retry = &backoff.ExponentialBackOff{InitialInterval: g.o.retryBackoff, RandomizationFactor: 0.2,
			Multiplier: 2, MaxInterval: max(g.o.retryBackoff, maxRetryBackoff)}
	}
	pause := f.retry.NextBackOff()
	f.unlogged++
	if first := f.logged.IsZero(); first || time.Since(f.logged) >= failureLogEvery {
		args := append([]any{"partition", partition, "offset", offset, "err", err, "retry_in", pause.Round(time.Millisecond).String()}, attrs...)
		if !first {
			args = append(args, "failures_since_last_line", f.unlogged, "failing_for", time.Since(f.since).Round(time.Second).String())
		}
		g.logger.Warn(what+"; retrying", args...)
		f.logged, f.unlogged = time.Now(), 0
	}
	g.failed(f, partition, offset, err)
	return pause
}

func (g *Group) failed(f *failureRun, partition int, offset int64, err error) {
	if f.since.IsZero() {
		f.since = time.Now()
	}
	after := g.o.stuck.after
	if after <= 0 {
		after = DefaultStuckAfter
	}
	if f.reported || time.Since(f.since) < after {
		return
	}
	f.reported = true
	g.logger.Error("PARTITION STUCK: every fetch has failed; nothing past this offset can be stored until it is fixed",
		"partition", partition, "offset", offset, "failing_for", time.Since(f.since).Round(time.Second).String(), "err", err)
	if g.o.stuck.fn != nil {
		g.o.stuck.fn(partition, offset, true, err)
	}
}

func (g *Group) progressed(f *failureRun, partition int, offset int64) {
	if f.reported {
		g.logger.Info("partition recovered: fetching again", "partition", partition, "offset", offset)
		if g.o.stuck.fn != nil {
			g.o.stuck.fn(partition, offset, false, nil)
		}
	}
	*f = failureRun{}
}
