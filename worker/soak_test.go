package main

import (
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nerstream/nerstream/internal/sink"
)

// soakParams come from the environment so that `make soak` runs the long
// version (NERSTREAM_SOAK_DOCS=20000, NERSTREAM_SOAK_FAULTS=60) and `make
// test` a short one with the same code.
func soakParam(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestChaosSoak runs three workers over six partitions while documents
// stream in, and injects random faults: mostly SIGKILLs, some SIGTERMs, and
// SIGSTOP/SIGCONT pauses past the session timeout (zombies), restarting the
// killed ones. Then, from the output alone: every document stored, no chunk
// row twice, chunks equal to an in-process annotation (checkExactlyOnce), and
// DuckDB sees the same rows. It prints documents, faults, lost, duplicates,
// extra rows, wall time and the workers' peak RSS.
//
// NERSTREAM_SOAK_BROKER picks the broker: kfake (the default) or apache (the
// test binary's Apache Kafka; `make soak BROKER=apache`).
//
// kfake (unlike Kafka) never expires a member killed while the broker holds
// its JoinGroup response: on kfake the test waits past the session timeout
// before restarting a killed worker (see docs/operations.md, NOTES). Apache Kafka expires
// such a member after the session timeout by itself, so there the killed
// worker is restarted at once. On both, the restarted member must join
// before the next fault.
func TestChaosSoak(t *testing.T) {
	nDocs := soakParam("NERSTREAM_SOAK_DOCS", 600)
	nFaults := soakParam("NERSTREAM_SOAK_FAULTS", 8)
	minKills := soakParam("NERSTREAM_SOAK_KILLS", 5) // at least this many SIGKILLs among the faults
	t0 := time.Now()
	kind := kfakeBroker
	switch b := os.Getenv("NERSTREAM_SOAK_BROKER"); b {
	case "", string(kfakeBroker):
	case string(apacheBroker):
		kind = apacheBroker
	default:
		t.Fatalf("NERSTREAM_SOAK_BROKER=%q: want %s or %s", b, kfakeBroker, apacheBroker)
	}
	c := newClusterOn(t, kind, 6)
	docs := testDocs(t, nDocs)
	const workers = 3
	for i := range workers {
		c.startWorker(i)
	}
	// Peak RSS of any worker process, sampled from /proc.
	var peakKB int64
	var peakMu sync.Mutex
	stopSample := make(chan struct{})
	defer close(stopSample)
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSample:
				return
			case <-tick.C:
			}
			c.mu.Lock()
			for _, cmd := range c.workers {
				if cmd.Process == nil {
					continue
				}
				if kb := vmHWM(cmd.Process.Pid); kb > 0 {
					peakMu.Lock()
					peakKB = max(peakKB, kb)
					peakMu.Unlock()
				}
			}
			c.mu.Unlock()
		}
	}()
	done := make(chan struct{})
	per := 2
	// Spread publishing over the faults: ~3.5 s per fault on average.
	pause := time.Duration(int64(3500*time.Millisecond) * int64(nFaults) * int64(per) / int64(nDocs))
	go func() { defer close(done); c.publish(docs, per, pause) }()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 13))
	var kills, terms, stops int
	for f := 0; f < nFaults || kills < minKills; f++ {
		time.Sleep(time.Duration(200+rng.IntN(1000)) * time.Millisecond)
		i := rng.IntN(workers)
		switch r := rng.IntN(10); {
		case r < 7 || f >= nFaults:
			c.signal(i, syscall.SIGKILL)
			kills++
		case r < 9:
			c.signal(i, syscall.SIGTERM)
			terms++
		default:
			c.signal(i, syscall.SIGSTOP)
			time.Sleep(3 * time.Second) // > session timeout (2s): a zombie
			c.signal(i, syscall.SIGCONT)
			stops++
			continue
		}
		if kind == kfakeBroker {
			time.Sleep(2500 * time.Millisecond) // kfake expiry workaround, see above
		}
		c.startWorker(i)
		c.waitJoined(i, 60*time.Second)
	}
	<-done
	c.waitRows(ids(docs), 10*time.Minute)
	// SIGTERM drains every worker: a late zombie upload has landed when they
	// have exited.
	c.stopAll()
	rows := c.waitRows(ids(docs), 30*time.Second)
	// Figures from the output alone.
	want := map[string]bool{}
	for _, d := range docs {
		want[d.ID] = true
	}
	seenDoc := map[string]bool{}
	count := map[chunkKey]int{}
	extra := 0
	for _, r := range rows {
		count[chunkKey{r.DocID, r.ChunkIndex}]++
		if !want[r.DocID] {
			extra++
		}
		if r.ChunkIndex == sink.DocumentMarker {
			seenDoc[r.DocID] = true
		}
	}
	lost, dups := 0, 0
	for id := range want {
		if !seenDoc[id] {
			lost++
		}
	}
	for _, n := range count {
		if n > 1 {
			dups += n - 1
		}
	}
	peakMu.Lock()
	peak := peakKB
	peakMu.Unlock()
	summary := strings.Join([]string{
		"soak (" + string(kind) + "): documents " + strconv.Itoa(len(docs)),
		"faults " + strconv.Itoa(kills+terms+stops) + " (SIGKILL " + strconv.Itoa(kills) + ", SIGTERM " + strconv.Itoa(terms) + ", SIGSTOP/SIGCONT " + strconv.Itoa(stops) + ")",
		"lost " + strconv.Itoa(lost), "duplicates " + strconv.Itoa(dups), "extra " + strconv.Itoa(extra),
		"wall " + time.Since(t0).Round(time.Second).String(), "peak worker RSS " + strconv.FormatInt(peak/1024, 10) + " MiB",
	}, ", ")
	t.Log(summary)
	if os.Getenv("NERSTREAM_SOAK_SUMMARY") != "" {
		os.WriteFile(os.Getenv("NERSTREAM_SOAK_SUMMARY"), []byte(summary+"\n"), 0o644)
	}
	if lost != 0 || dups != 0 || extra != 0 {
		t.Fatalf("lost %d, duplicates %d, extra %d", lost, dups, extra)
	}
	checkExactlyOnce(t, rows, docs, per)
	checkDuckDB(t, c.out, len(rows))
}

// vmHWM returns a process's peak resident set size in KiB (0 if unknown).
func vmHWM(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
