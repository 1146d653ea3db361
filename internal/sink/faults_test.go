package sink

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fault is what faultTransport does to one request.
type Fault int

const (
	Pass      Fault = iota
	Status503       // answer 503 SlowDown without reaching the store
	Hang            // accept the request and never answer (until the attempt is cut)
	Slow            // answer after a delay
	Partial         // forward, then cut the response body in the middle
	ReadOnly        // 403 AccessDenied for writes, pass reads
	CutBody         // send only the first half of a request body, then fail the connection
)

// faultTransport is a fault-injecting bucket wrapper at the HTTP level: it
// sits between the S3 client and a real (fake) S3 server, so the SDK, the
// store's retry and the error paths all run as in production.
type faultTransport struct {
	next   http.RoundTripper
	mu     sync.Mutex
	plan   func(n int, r *http.Request) Fault // n counts requests from 1
	n      int
	delay  time.Duration
	faults atomic.Int64
}

func (f *faultTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.n++
	fault := f.plan(f.n, r)
	f.mu.Unlock()
	if fault != Pass {
		f.faults.Add(1)
	}
	canned := func(code int, body string) *http.Response {
		return &http.Response{StatusCode: code, Status: http.StatusText(code), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/xml"}}, Body: io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)), Request: r}
	}
	switch fault {
	case Status503:
		if r.Body != nil {
			io.Copy(io.Discard, r.Body)
		}
		return canned(503, `<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`), nil
	case Hang:
		<-r.Context().Done()
		return nil, r.Context().Err()
	case Slow:
		select {
		case <-time.After(f.delay):
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	case ReadOnly:
		if r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodDelete {
			return canned(403, `<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`), nil
		}
	case CutBody:
		if r.Body != nil && r.ContentLength > 1 {
			body, _ := io.ReadAll(r.Body)
			r = r.Clone(r.Context())
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body[:len(body)/2]), errReader{io.ErrUnexpectedEOF}))
		}
	}
	resp, err := f.next.RoundTrip(r)
	if err != nil || fault != Partial {
		return resp, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body[:len(body)/2]), errReader{io.ErrUnexpectedEOF}))
	return resp, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func faultyStore(t *testing.T, plan func(int, *http.Request) Fault, opts ...BucketOption) (*Store, *faultTransport) {
	t.Helper()
	ft := &faultTransport{next: http.DefaultTransport.(*http.Transport).Clone(), plan: plan, delay: 300 * time.Millisecond}
	url := fakeS3(t, "chunks", "out")
	opts = append([]BucketOption{WithS3Credentials(staticCreds), WithLogger(quiet), WithHTTPClient(&http.Client{Transport: ft}),
		WithRetry(6, 10*time.Millisecond, 50*time.Millisecond, 30*time.Second)}, opts...)
	s, err := OpenBucket(context.Background(), url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, ft
}

func isWrite(r *http.Request) bool { return r.Method == http.MethodPut }

// logBuffer collects log lines safely.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestStorageFaultsAreRetriedAndLoseNothing(t *testing.T) {
	rows := sampleRowsForFaults()
	tests := []struct {
		name       string
		plan       func(n int, r *http.Request) Fault
		wantFaults bool
		wantLog    string
	}{
		{"5xx twice", func() func(int, *http.Request) Fault {
			writes := 0
			return func(_ int, r *http.Request) Fault {
				if isWrite(r) {
					if writes++; writes <= 2 {
						return Status503
					}
				}
				return Pass
			}
		}(), true, "retrying storage operation"},
		{"endpoint never answers once", func() func(int, *http.Request) Fault {
			writes := 0
			return func(_ int, r *http.Request) Fault {
				if isWrite(r) {
					if writes++; writes == 1 {
						return Hang
					}
				}
				return Pass
			}
		}(), true, "storage attempt timed out"},
		{"slow answers", func(int, *http.Request) Fault { return Slow }, true, ""},
		{"partial read responses", func() func(int, *http.Request) Fault {
			gets := 0
			return func(_ int, r *http.Request) Fault {
				if r.Method == http.MethodGet && !strings.Contains(r.URL.RawQuery, "list-type") {
					if gets++; gets == 1 {
						return Partial
					}
				}
				return Pass
			}
		}(), true, "retrying storage operation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			s, ft := faultyStore(t, tc.plan, WithAttemptTimeout(2*time.Second),
				WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			k := s.Key("m-0123456789ab", "docs", 0, 0, 9)
			if err := s.Upload(context.Background(), k, rows); err != nil {
				t.Fatalf("upload: %v", err)
			}
			got, err := s.ReadAll(context.Background(), "m-0123456789ab")
			if err != nil {
				t.Fatalf("read back: %v", err)
			}
			if len(got) != len(rows) {
				t.Fatalf("read back %d rows, want %d", len(got), len(rows))
			}
			if tc.wantFaults && ft.faults.Load() == 0 {
				t.Fatal("no fault was injected")
			}
			if tc.wantLog != "" && !strings.Contains(logs.String(), tc.wantLog) {
				t.Fatalf("log lacks %q:\n%s", tc.wantLog, logs.String())
			}
		})
	}
}

func TestReadOnlyBucketFailsFastNamingTheKey(t *testing.T) {
	s, _ := faultyStore(t, func(int, *http.Request) Fault { return ReadOnly })
	k := s.Key("m-0123456789ab", "docs", 0, 0, 9)
	t0 := time.Now()
	err := s.Upload(context.Background(), k, sampleRowsForFaults())
	if err == nil || !strings.Contains(err.Error(), k.String()) || !strings.Contains(err.Error(), "after 1 attempt") {
		t.Fatalf("upload to a read-only bucket = %v, want a permanent error naming %s after 1 attempt", err, k)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("read-only refusal took %s", d)
	}
}

func TestUploadThatNeverSucceedsGivesUpWithinItsBudget(t *testing.T) {
	s, ft := faultyStore(t, func(_ int, r *http.Request) Fault {
		if isWrite(r) {
			return Status503
		}
		return Pass
	}, WithRetry(4, 10*time.Millisecond, 40*time.Millisecond, 10*time.Second))
	err := s.Upload(context.Background(), s.Key("m-0123456789ab", "docs", 0, 0, 9), sampleRowsForFaults())
	if err == nil || !strings.Contains(err.Error(), "after 4 attempt") {
		t.Fatalf("upload = %v, want a failure after 4 attempts", err)
	}
	if ft.faults.Load() != 4 {
		t.Fatalf("%d faulty requests, want 4 (capped retries)", ft.faults.Load())
	}
}

func sampleRowsForFaults() []Row {
	var rows []Row
	for i := range 10 {
		rows = append(rows, Row{DocID: "d" + string(rune('0'+i)), ModelName: "m", ModelVersion: "v", Topic: "docs",
			Offset: int64(i), Op: OpUpsert, ChunkIndex: DocumentMarker})
	}
	return rows
}

func TestMissingCredentialsErrorNamesTheEndpoint(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	url := fakeS3(t, "chunks", "out")
	s, err := OpenBucket(context.Background(), url, WithLogger(quiet), WithRetry(1, time.Millisecond, time.Millisecond, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, _, err = s.LastOffset(context.Background(), "m-0123456789ab", "docs", 0)
	endpoint := url[strings.Index(url, "endpoint=")+len("endpoint="):]
	if err == nil || !strings.Contains(err.Error(), endpoint) || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("without credentials: %v; want an error naming %s and how to give credentials", err, endpoint)
	}
}
