package sink

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/cenkalti/backoff/v5"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/gcerrors"
)

// ContentType is the media type stored with every uploaded file.
const ContentType = "application/vnd.apache.parquet"

// Store is a bucket of chunks files under one key prefix. It is safe for
// concurrent use.
type Store struct {
	bucket *blob.Bucket
	name   string // URL without query, for error messages
	prefix string
	cfg    bucketConfig
	// fileRoot is the directory of a file:// bucket ("" otherwise): uploads
	// there are read back and fsynced (see [Store.verify]).
	fileRoot string
}

// bucketConfig holds the settings of [OpenBucket].
type bucketConfig struct {
	attemptTimeout time.Duration
	httpClient     *http.Client
	credentials    aws.CredentialsProvider
	tries          uint
	initial        time.Duration
	maxInterval    time.Duration
	maxElapsed     time.Duration
	log            *slog.Logger
	writeOpts      []WriteOption
	observe        func(UploadEvent)
}

// UploadEvent describes one finished [Store.Upload], for metrics.
type UploadEvent struct {
	Key      Key
	Rows     int           // rows in the file
	Bytes    int           // encoded file size; 0 if encoding failed
	Attempts int           // storage attempts made (0 if it failed before the first)
	Duration time.Duration // encode + upload, retries included
	Err      error         // nil on success
}

// WithUploadObserver calls fn after every Upload, successful or not, from
// the uploading goroutine (fn must be quick and safe for concurrent use).
func WithUploadObserver(fn func(UploadEvent)) BucketOption {
	return func(b *bucketConfig) { b.observe = fn }
}

// BucketOption changes how [OpenBucket] opens a bucket and how the [Store]
// behaves.
type BucketOption func(*bucketConfig)

// WithHTTPClient sets the HTTP client of the S3 client (s3:// URLs only).
// Without it a client with the standard transport is used, which trusts the
// system roots plus the PEM bundle named by AWS_CA_BUNDLE, if set.
func WithHTTPClient(c *http.Client) BucketOption {
	return func(b *bucketConfig) { b.httpClient = c }
}

// WithS3Credentials sets the credentials of the S3 client (s3:// URLs only).
// Without it, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and
// AWS_SESSION_TOKEN) are used when set, else the SDK's default chain (shared
// files, web identity, instance roles).
func WithS3Credentials(p aws.CredentialsProvider) BucketOption {
	return func(b *bucketConfig) { b.credentials = p }
}

// WithRetry bounds the retries of every storage operation: at most tries
// attempts (>= 1), exponential backoff starting at initial and capped at
// maxInterval, and no new attempt after maxElapsed. Defaults: 6 tries,
// 200ms, 5s, 1 minute.
func WithRetry(tries uint, initial, maxInterval, maxElapsed time.Duration) BucketOption {
	return func(b *bucketConfig) {
		b.tries, b.initial, b.maxInterval, b.maxElapsed = max(tries, 1), initial, maxInterval, maxElapsed
	}
}

// WithAttemptTimeout bounds one attempt of a storage operation (default
// 30s); a timed-out attempt is retried like any transient failure. Zero
// means no per-attempt bound.
func WithAttemptTimeout(d time.Duration) BucketOption {
	return func(b *bucketConfig) { b.attemptTimeout = d }
}

// WithLogger sets the logger for retried operations (default slog.Default()).
func WithLogger(l *slog.Logger) BucketOption {
	return func(b *bucketConfig) { b.log = l }
}

// WithWriteOptions sets the [WriteOption]s that [Store.Upload] passes to
// [WriteParquet].
func WithWriteOptions(opts ...WriteOption) BucketOption {
	return func(b *bucketConfig) { b.writeOpts = append(b.writeOpts, opts...) }
}

// OpenBucket opens the bucket named by rawURL and returns a [Store] for the
// key prefix in the URL's path. Supported URLs:
//
//	s3://bucket/prefix?region=eu-west-1&endpoint=http://host:9000&use_path_style=true
//	gs://bucket/prefix
//	azblob://container/prefix
//	file:///abs/dir            (the directory is created if missing)
//	mem://name/prefix          (a new, empty in-memory bucket; for tests)
//
// For file:// the whole path is the root directory; a key prefix may be given
// with the "prefix" query parameter, which is accepted by every scheme and
// appended to the path prefix. s3:// accepts region (default $AWS_REGION, else
// us-east-1), endpoint (for S3-compatible stores), use_path_style, and
// anonymous=true; gs:// and azblob:// take the query parameters of
// gocloud.dev/blob/gcsblob and azureblob and their default credentials.
func OpenBucket(ctx context.Context, rawURL string, opts ...BucketOption) (*Store, error) {
	cfg := newBucketConfig(opts)
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open bucket %q: %w", rawURL, err)
	}
	q := u.Query()
	extra := strings.Trim(q.Get("prefix"), "/")
	q.Del("prefix")
	name := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()

	var (
		b        *blob.Bucket
		prefix   = strings.Trim(u.Path, "/")
		fileRoot string
	)
	switch u.Scheme {
	case "s3":
		b, err = openS3(ctx, u.Host, q, &cfg)
	case "gs", "azblob":
		if u.Host == "" {
			err = errors.New("no bucket name")
			break
		}
		bu := url.URL{Scheme: u.Scheme, Host: u.Host, RawQuery: q.Encode()}
		b, err = blob.OpenBucket(ctx, bu.String())
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			err = fmt.Errorf("file URL host %q is not empty or localhost", u.Host)
			break
		}
		if u.Path == "" {
			err = errors.New("file URL has no path")
			break
		}
		b, err = fileblob.OpenBucket(u.Path, &fileblob.Options{
			CreateDir: true,
			NoTempDir: true, // temp file next to the target: rename never crosses mounts
			Metadata:  fileblob.MetadataDontWrite,
		})
		prefix, fileRoot = "", u.Path
	case "mem":
		b = memblob.OpenBucket(nil)
	default:
		err = fmt.Errorf("unsupported scheme %q (want s3, gs, azblob, file or mem)", u.Scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", name, err)
	}
	if extra != "" {
		prefix = strings.Trim(prefix+"/"+extra, "/")
	}
	if err := ValidatePrefix(prefix); err != nil {
		b.Close()
		return nil, fmt.Errorf("open bucket %s: %w", name, err)
	}
	return &Store{bucket: b, name: name, prefix: prefix, cfg: cfg, fileRoot: fileRoot}, nil
}

// newBucketConfig applies opts to the defaults.
func newBucketConfig(opts []BucketOption) bucketConfig {
	cfg := bucketConfig{
		tries: 6, initial: 200 * time.Millisecond, maxInterval: 5 * time.Second, maxElapsed: time.Minute,
		attemptTimeout: DefaultAttemptTimeout,
		log:            slog.Default(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// Prefix returns the key prefix of the store inside its bucket (no leading
// or trailing "/", possibly empty). Keys passed to and returned by the store
// carry it in [Key.Prefix].
func (s *Store) Prefix() string { return s.prefix }

// Bucket returns the underlying gocloud bucket.
func (s *Store) Bucket() *blob.Bucket { return s.bucket }

// Key returns the key of the file for offsets first..last of a partition
// under the store's prefix; model is a model directory (see [ModelDir]).
func (s *Store) Key(model, topic string, partition int, first, last int64) Key {
	return Key{Prefix: s.prefix, Model: model, Topic: topic, Partition: partition, First: first, Last: last}
}

// Upload encodes rows as Parquet and stores them under k with a single put,
// which object stores commit atomically (fileblob writes a temporary file
// and renames it). An empty k.Prefix means the store's prefix; any other
// prefix must equal it. Transient failures are retried (see [WithRetry]); an
// existing object with the same key is replaced, which is harmless because
// the same offsets give the same rows. The final error names bucket and key.
//
// Upload returns nil only once the stored object has been verified to hold
// exactly the encoded bytes (size and MD5; see [Store.verify]). A failed
// write never leaves an object at the key: the writer is aborted on error,
// and if the upload finally fails, an incomplete object found at the key (a
// backend that committed a short write) is removed.
func (s *Store) Upload(ctx context.Context, k Key, rows []Row) (err error) {
	start := time.Now()
	ev := UploadEvent{Key: k, Rows: len(rows)}
	if s.cfg.observe != nil {
		defer func() {
			ev.Duration, ev.Err = time.Since(start), err
			s.cfg.observe(ev)
		}()
	}
	if k.Prefix == "" {
		k.Prefix = s.prefix
	}
	key := k.String()
	if k.Prefix != s.prefix {
		return fmt.Errorf("upload %s/%s: key prefix %q is not the store prefix %q", s.name, key, k.Prefix, s.prefix)
	}
	if err := k.Validate(); err != nil {
		return fmt.Errorf("upload %s/%s: %w", s.name, key, err)
	}
	var buf bytes.Buffer
	if err := WriteParquet(&buf, rows, s.cfg.writeOpts...); err != nil {
		return fmt.Errorf("upload %s/%s: %w", s.name, key, err)
	}
	data := buf.Bytes()
	ev.Key, ev.Bytes = k, len(data)
	sum := md5.Sum(data)
	err = s.retry(ctx, "upload "+key, func(ctx context.Context) error {
		ev.Attempts++
		return s.put(ctx, key, data, sum)
	})
	if err != nil {
		s.removeIncomplete(ctx, key)
		return fmt.Errorf("upload %d rows (%d bytes) to %s key %s: %w", len(rows), len(data), s.name, key, err)
	}
	return nil
}

// removeIncomplete deletes the object at key if it is not a whole Parquet
// file (see [Store.complete]); a missing object is fine. It runs after a
// failed upload, on a context of its own so that a cancelled upload still
// cleans up, and only logs its own failures: resume checks again.
func (s *Store) removeIncomplete(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(s.cfg.attemptTimeout, 10*time.Second))
	defer cancel()
	attrs, err := s.bucket.Attributes(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return
	}
	if err == nil {
		var ok bool
		var why string
		if ok, why, err = s.complete(ctx, key, attrs.Size); err == nil && ok {
			return
		} else if err == nil {
			err = s.bucket.Delete(ctx, key)
			s.cfg.log.Warn("sink: removed an incomplete object left by a failed upload", "bucket", s.name, "key", key, "why", why, "err", err)
			return
		}
	}
	s.cfg.log.Warn("sink: could not check the key of a failed upload", "bucket", s.name, "key", key, "err", err)
}

// Files lists the chunks files of one model directory, topic and partition,
// sorted by First (then Last). Objects whose names do not parse as keys
// (temporary files, foreign files) are ignored.
func (s *Store) Files(ctx context.Context, model, topic string, partition int) ([]Key, error) {
	objs, err := s.partitionObjects(ctx, model, topic, partition)
	return keysOf(objs), err
}

// keysOf returns the keys of objs, in their order.
func keysOf(objs []object) []Key {
	keys := make([]Key, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	return keys
}

// object is a listed chunks file and its size.
type object struct {
	Key  Key
	Size int64
}

// partitionObjects lists one partition's chunks files sorted by First, then Last.
func (s *Store) partitionObjects(ctx context.Context, model, topic string, partition int) ([]object, error) {
	probe := s.Key(model, topic, partition, 0, 0)
	if err := probe.Validate(); err != nil {
		return nil, fmt.Errorf("list %s: %w", s.name, err)
	}
	objs, err := s.listObjects(ctx, probe.PartitionPrefix())
	if err != nil {
		return nil, err
	}
	slices.SortFunc(objs, func(a, b object) int {
		if a.Key.First != b.Key.First {
			return cmp.Compare(a.Key.First, b.Key.First)
		}
		return cmp.Compare(a.Key.Last, b.Key.Last)
	})
	return objs, nil
}

// LastOffset returns the highest Last offset over the stored files of a
// partition; ok is false when there is none. The worker resumes at last+1.
//
// Only whole files count as stored. An object at a final key that is empty,
// or (for the files that decide the answer, checked from the highest Last
// down) not a complete Parquet file, is not trusted: it is logged and
// removed, and the answer is the offset just before the earliest such file,
// so that its records are annotated again and its key is written anew.
// Failed uploads leave no such object (see [Store.Upload]); this guards
// against other writers and older versions.
func (s *Store) LastOffset(ctx context.Context, model, topic string, partition int) (last int64, ok bool, err error) {
	objs, err := s.partitionObjects(ctx, model, topic, partition)
	if err != nil {
		return 0, false, err
	}
	bad := -1 // index of the earliest untrusted file
	for i, o := range objs {
		if o.Size < int64(minParquetSize) {
			s.distrust(ctx, o, fmt.Sprintf("%d bytes, smaller than any Parquet file", o.Size))
			if bad < 0 {
				bad = i
			}
		}
	}
	good := objs
	if bad >= 0 {
		good = objs[:bad]
	}
	for len(good) > 0 {
		top := slices.MaxFunc(good, func(a, b object) int { return cmp.Compare(a.Key.Last, b.Key.Last) })
		whole, why, err := s.complete(ctx, top.Key.String(), top.Size)
		if err != nil {
			return 0, false, err
		}
		if whole {
			break
		}
		s.distrust(ctx, top, why)
		// good is a prefix of objs (sorted by First): cut it before top.
		bad = slices.IndexFunc(good, func(o object) bool { return o.Key.First >= top.Key.First })
		good = good[:bad]
	}
	if bad >= 0 {
		return objs[bad].Key.First - 1, true, nil
	}
	for _, o := range good {
		if !ok || o.Key.Last > last {
			last, ok = o.Key.Last, true
		}
	}
	return last, ok, nil
}

// distrust logs an untrusted object and removes it, so that neither a later
// resume nor a reader (export, DuckDB, Spark) meets it again. Removal is
// best effort: the object is not counted as stored either way.
func (s *Store) distrust(ctx context.Context, o object, why string) {
	key := o.Key.String()
	err := s.retry(ctx, "delete "+key, func(ctx context.Context) error {
		if err := s.bucket.Delete(ctx, key); gcerrors.Code(err) != gcerrors.NotFound {
			return err
		}
		return nil
	})
	s.cfg.log.Warn("sink: stored object is not a whole Parquet file; its offsets are annotated again",
		"bucket", s.name, "key", key, "first", o.Key.First, "last", o.Key.Last, "why", why, "removed", err == nil, "err", err)
}

// ReadAll reads every chunks file under the model directory (all topics and
// partitions), in key order. Meant for tests and evaluation, not for large
// outputs: everything is held in memory.
func (s *Store) ReadAll(ctx context.Context, model string) ([]Row, error) {
	if err := ValidateModelDir(model); err != nil {
		return nil, fmt.Errorf("read %s: %w", s.name, err)
	}
	prefix := "model=" + model + "/"
	if s.prefix != "" {
		prefix = s.prefix + "/" + prefix
	}
	keys, err := s.list(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var rows []Row
	for _, k := range keys {
		r, err := s.ReadKey(ctx, k)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r...)
	}
	return rows, nil
}

// list returns the parsed keys of all objects under prefix, in key order.
func (s *Store) list(ctx context.Context, prefix string) ([]Key, error) {
	objs, err := s.listObjects(ctx, prefix)
	return keysOf(objs), err
}

// listObjects returns the parsed keys and sizes of all objects under prefix,
// in key order.
func (s *Store) listObjects(ctx context.Context, prefix string) ([]object, error) {
	var objs []object
	err := s.retry(ctx, "list "+prefix, func(ctx context.Context) error {
		objs = objs[:0]
		it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
		for {
			obj, err := it.Next(ctx)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if obj.IsDir {
				continue
			}
			if k, err := ParseKey(obj.Key); err == nil && k.Prefix == s.prefix {
				objs = append(objs, object{Key: k, Size: obj.Size})
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list %s prefix %q: %w", s.name, prefix, err)
	}
	return objs, nil
}

// retry runs op until it succeeds, fails permanently, or the retry budget
// is spent.
//
// Each attempt runs under its own timeout (see [WithAttemptTimeout]), so an
// endpoint that accepts connections and never answers costs one attempt and
// a log line, not a silent stall.
func (s *Store) retry(ctx context.Context, what string, op func(context.Context) error) error {
	eb := backoff.NewExponentialBackOff()
	eb.InitialInterval, eb.MaxInterval = s.cfg.initial, s.cfg.maxInterval
	tries := 0
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		tries++
		err := s.attempt(ctx, op)
		if err != nil && !transient(ctx, err) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	},
		backoff.WithBackOff(eb),
		backoff.WithMaxTries(s.cfg.tries),
		backoff.WithMaxElapsedTime(s.cfg.maxElapsed),
		backoff.WithNotify(func(err error, next time.Duration) {
			s.cfg.log.Warn("sink: retrying storage operation", "bucket", s.name, "op", what, "attempt", tries, "next", next, "err", err)
		}),
	)
	if err != nil {
		var p *backoff.PermanentError
		if errors.As(err, &p) {
			err = p.Unwrap()
		}
		return fmt.Errorf("after %d attempt(s): %w", tries, err)
	}
	return nil
}

// transient reports whether err may go away on retry.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound, gcerrors.PermissionDenied, gcerrors.InvalidArgument,
		gcerrors.FailedPrecondition, gcerrors.AlreadyExists, gcerrors.Unimplemented, gcerrors.Canceled:
		return false
	}
	return true
}

// Close releases the bucket.
func (s *Store) Close() error {
	if err := s.bucket.Close(); err != nil {
		return fmt.Errorf("close %s: %w", s.name, err)
	}
	return nil
}

// DefaultAttemptTimeout bounds one storage attempt unless WithAttemptTimeout
// says otherwise.
const DefaultAttemptTimeout = 30 * time.Second

// errAttemptTimeout is the cause of an attempt cut by the attempt timeout.
var errAttemptTimeout = errors.New("storage attempt timed out")

// attempt runs op under the per-attempt timeout. A timeout that is not the
// caller's own deadline is reported as a transient errAttemptTimeout.
func (s *Store) attempt(ctx context.Context, op func(context.Context) error) error {
	if s.cfg.attemptTimeout <= 0 {
		return op(ctx)
	}
	actx, cancel := context.WithTimeoutCause(ctx, s.cfg.attemptTimeout, errAttemptTimeout)
	defer cancel()
	err := op(actx)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), errAttemptTimeout) {
		return fmt.Errorf("%w after %s (endpoint accepted the request but did not answer): %v", errAttemptTimeout, s.cfg.attemptTimeout, err)
	}
	return err
}
