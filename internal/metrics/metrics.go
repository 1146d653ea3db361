package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric names: the one place they are spelled (dashboards, alerts, the
// demo and tests read them through these).
const (
	NameRecords            = "nerstream_records_total"
	NameDocuments          = "nerstream_documents_total"
	NameWindows            = "nerstream_windows_total"
	NameBatches            = "nerstream_batches_total"
	NameTokenSlots         = "nerstream_token_slots_total"
	NameTokenSlotsUsed     = "nerstream_token_slots_used_total"
	NameSlotUtilization    = "nerstream_slot_utilization_ratio"
	NameChunks             = "nerstream_chunks_total"
	NameBatchSeconds       = "nerstream_batch_duration_seconds"
	NameDeadLetters        = "nerstream_dead_letters_total"
	NameDeadLetterFailures = "nerstream_dead_letter_failures_total"
	NamePartitionsStopped  = "nerstream_partitions_stopped_total"
	NamePartitionStuck     = "nerstream_partition_stuck"
	NameUploads            = "nerstream_uploads_total"
	NameUploadErrors       = "nerstream_upload_errors_total"
	NameUploadSeconds      = "nerstream_upload_duration_seconds"
	NameUploadRows         = "nerstream_upload_rows_total"
	NameLag                = "nerstream_consumer_lag_records"
	NamePartitions         = "nerstream_assigned_partitions"
	NameHeldRecords        = "nerstream_held_records"
	NameBrokerErrors       = "nerstream_broker_errors_total"
)

// Metrics holds the worker's collectors on their own registry.
type Metrics struct {
	Registry        *prometheus.Registry
	Records         prometheus.Counter
	Docs            *prometheus.CounterVec // by op
	Windows         prometheus.Counter
	Batches         prometheus.Counter
	TokenSlots      prometheus.Counter
	UsedSlots       prometheus.Counter
	SlotUtilization prometheus.Gauge
	Chunks          *prometheus.CounterVec // by label
	BatchSeconds    prometheus.Histogram
	DeadLetters     *prometheus.CounterVec // by reason
	Uploads         prometheus.Counter
	UploadErrors    prometheus.Counter
	// DeadLetterFailures counts dead letters that could not be written; each
	// stops its partition without committing past the record.
	DeadLetterFailures prometheus.Counter
	// PartitionsStopped counts partitions stopped because they could not
	// progress (an upload or a dead letter that never succeeded).
	PartitionsStopped prometheus.Counter
	// PartitionStuck is 1 for a partition whose fetches all fail.
	PartitionStuck *prometheus.GaugeVec
	UploadSeconds  prometheus.Histogram
	UploadRows     prometheus.Counter
	Lag            *prometheus.GaugeVec // by partition
	Partitions     prometheus.Gauge
	// HeldRecords counts, by partition, records at the partition's end that
	// are annotated but held in an open file because their timestamps lie in
	// a future time bucket (a producer clock ahead): the file can only be
	// closed deterministically by the next record or when the bucket ends.
	HeldRecords *prometheus.GaugeVec
	// BrokerErrors counts failed broker operations the consumer group
	// retried, by op (join, metadata, fetch, offsets).
	BrokerErrors *prometheus.CounterVec

	ready atomic.Bool
	h     health
	used  atomic.Int64
	slots atomic.Int64
}

// New registers every collector on a fresh registry (plus Go and process collectors).
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{Registry: r}
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m.Records = prometheus.NewCounter(prometheus.CounterOpts{Name: NameRecords, Help: "Kafka records processed."})
	m.Docs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameDocuments, Help: "Documents processed, by op."}, []string{"op"})
	m.Windows = prometheus.NewCounter(prometheus.CounterOpts{Name: NameWindows, Help: "128-wordpiece windows run through the model."})
	m.Batches = prometheus.NewCounter(prometheus.CounterOpts{Name: NameBatches, Help: "Fixed-shape model batches run."})
	m.TokenSlots = prometheus.NewCounter(prometheus.CounterOpts{Name: NameTokenSlots, Help: "Token slots offered by batches (B*T each)."})
	m.UsedSlots = prometheus.NewCounter(prometheus.CounterOpts{Name: NameTokenSlotsUsed, Help: "Token slots holding real tokens ([CLS]/[SEP] included)."})
	m.SlotUtilization = prometheus.NewGauge(prometheus.GaugeOpts{Name: NameSlotUtilization, Help: "Real tokens / token slots since start."})
	m.Chunks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameChunks, Help: "Entity chunks written, by label."}, []string{"label"})
	m.BatchSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: NameBatchSeconds, Help: "Model latency per batch.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)})
	m.DeadLetters = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameDeadLetters, Help: "Records or documents written to the dead-letter topic, by reason (successful writes only)."}, []string{"reason"})
	m.Uploads = prometheus.NewCounter(prometheus.CounterOpts{Name: NameUploads, Help: "Parquet files uploaded."})
	m.UploadErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: NameUploadErrors, Help: "Uploads that failed after retries."})
	m.UploadSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: NameUploadSeconds, Help: "Encode+upload time per Parquet file.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)})
	m.UploadRows = prometheus.NewCounter(prometheus.CounterOpts{Name: NameUploadRows, Help: "Rows written to Parquet files."})
	m.Lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: NameLag, Help: "High watermark minus next offset, by partition."}, []string{"partition"})
	m.DeadLetterFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: NameDeadLetterFailures, Help: "Dead letters that could not be written; the partition stops without committing past them."})
	m.PartitionsStopped = prometheus.NewCounter(prometheus.CounterOpts{Name: NamePartitionsStopped, Help: "Partitions stopped because they could not progress (alert on any increase)."})
	m.PartitionStuck = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: NamePartitionStuck, Help: "1 while a partition cannot progress (every fetch fails), by partition."}, []string{"partition"})
	m.HeldRecords = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: NameHeldRecords, Help: "Records at a partition's end held in an open file because their timestamps are in a future time bucket (producer clock ahead), by partition."}, []string{"partition"})
	m.BrokerErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameBrokerErrors, Help: "Failed broker operations the consumer group retried (dropped connection, broker restart, unreachable leader), by op."}, []string{"op"})
	m.Partitions = prometheus.NewGauge(prometheus.GaugeOpts{Name: NamePartitions, Help: "Partitions owned by this worker."})
	for _, c := range []prometheus.Collector{m.Records, m.Docs, m.Windows, m.Batches, m.TokenSlots, m.UsedSlots, m.SlotUtilization,
		m.Chunks, m.BatchSeconds, m.DeadLetters, m.Uploads, m.UploadErrors, m.UploadSeconds, m.UploadRows, m.Lag, m.Partitions,
		m.DeadLetterFailures, m.PartitionsStopped, m.PartitionStuck, m.HeldRecords, m.BrokerErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// ObserveBatch records one model batch.
func (m *Metrics) ObserveBatch(windows, used, slots int, d time.Duration) {
	m.Batches.Inc()
	m.Windows.Add(float64(windows))
	m.UsedSlots.Add(float64(used))
	m.TokenSlots.Add(float64(slots))
	u, s := m.used.Add(int64(used)), m.slots.Add(int64(slots))
	m.SlotUtilization.Set(float64(u) / float64(s))
	m.BatchSeconds.Observe(d.Seconds())
}

// SetLag publishes per-partition lag.
func (m *Metrics) SetLag(lag map[int]int64) {
	m.Lag.Reset()
	for p, l := range lag {
		m.Lag.WithLabelValues(strconv.Itoa(p)).Set(float64(l))
	}
}

// SetReady flips /healthz between 200 and 503.
func (m *Metrics) SetReady(ok bool) { m.ready.Store(ok) }

// Handler serves /metrics, /healthz (readiness: 503 before the worker is
// ready, while it drains, with a stuck partition, or without any partition
// past the grace) and /livez (liveness: 200 while the process answers; a
// restart would not fix what /healthz reports).
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/livez", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "alive") })
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !m.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		if err := m.healthErr(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// Serve listens on addr until ctx ends. An empty addr serves nothing.
func (m *Metrics) Serve(ctx context.Context, addr string, log *slog.Logger) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Info("serving metrics", "addr", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	return nil
}
