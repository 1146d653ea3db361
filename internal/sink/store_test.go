package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var staticCreds = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test", Source: "test"}, nil
})

// fakeS3 serves an in-memory S3 (gofakes3) over plain HTTP with one bucket
// and returns the s3:// URL for prefix.
func fakeS3(t testing.TB, bucket, prefix string) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	return "s3://" + bucket + "/" + prefix + "?region=us-east-1&use_path_style=true&endpoint=" + srv.URL
}

// backends returns the store URLs every storage test runs against.
func backends(t *testing.T) map[string]string {
	return map[string]string{
		"file": "file://" + filepath.ToSlash(t.TempDir()) + "?prefix=out/ner",
		"mem":  "mem://test/out/ner",
		"s3":   fakeS3(t, "chunks", "out/ner"),
	}
}

func openTest(t *testing.T, url string, opts ...BucketOption) *Store {
	t.Helper()
	opts = append([]BucketOption{WithS3Credentials(staticCreds), WithLogger(quiet),
		WithHTTPClient(&http.Client{Timeout: 30 * time.Second})}, opts...)
	s, err := OpenBucket(context.Background(), url, opts...)
	if err != nil {
		t.Fatalf("OpenBucket(%s): %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStoreRoundTrip(t *testing.T) {
	for name, url := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := openTest(t, url)
			if s.Prefix() != "out/ner" {
				t.Fatalf("Prefix() = %q, want out/ner", s.Prefix())
			}
			type file struct {
				key  Key
				rows []Row
			}
			files := []file{
				// Uploaded out of order on purpose; Files sorts by First.
				{s.Key(testModel, "docs", 0, 10, 19), genRows(40, "docs", 0, 10)},
				{s.Key(testModel, "docs", 0, 0, 9), genRows(35, "docs", 0, 0)},
				{s.Key(testModel, "docs", 0, 20, 20), nil}, // a batch without any chunk
				{s.Key(testModel, "docs", 1, 0, 99_999), genRows(100_000, "docs", 1, 0)},
				{s.Key(testModel, "other", 0, 500, 510), genRows(3, "other", 0, 500)},
				{s.Key("bilstm-ffffffffffff", "docs", 0, 0, 1_000), genRows(5, "docs", 0, 0)},
			}
			for _, f := range files {
				if err := s.Upload(ctx, f.key, f.rows); err != nil {
					t.Fatalf("Upload %s: %v", f.key, err)
				}
			}
			keys, err := s.Files(ctx, testModel, "docs", 0)
			if err != nil {
				t.Fatal(err)
			}
			want := []Key{files[1].key, files[0].key, files[2].key}
			if len(keys) != len(want) {
				t.Fatalf("Files = %v, want %v", keys, want)
			}
			for i := range want {
				if keys[i] != want[i] {
					t.Fatalf("Files[%d] = %v, want %v", i, keys[i], want[i])
				}
			}
			for _, tc := range []struct {
				topic     string
				partition int
				want      int64
				ok        bool
			}{{"docs", 0, 20, true}, {"docs", 1, 99_999, true}, {"other", 0, 510, true}, {"docs", 2, 0, false}, {"nope", 0, 0, false}} {
				last, ok, err := s.LastOffset(ctx, testModel, tc.topic, tc.partition)
				if err != nil || ok != tc.ok || last != tc.want {
					t.Errorf("LastOffset(%s/%d) = %d, %v, %v; want %d, %v", tc.topic, tc.partition, last, ok, err, tc.want, tc.ok)
				}
			}
			got, err := s.ReadAll(ctx, testModel)
			if err != nil {
				t.Fatal(err)
			}
			// Key order: topic=docs partition 0 (by offset), partition 1, then topic=other.
			var wantRows []Row
			for _, i := range []int{1, 0, 2, 3, 4} {
				wantRows = append(wantRows, files[i].rows...)
			}
			if len(got) != len(wantRows) {
				t.Fatalf("ReadAll: %d rows, want %d", len(got), len(wantRows))
			}
			for i := range got {
				if got[i] != wantRows[i] {
					t.Fatalf("ReadAll row %d = %+v, want %+v", i, got[i], wantRows[i])
				}
			}
		})
	}
}

func TestStoreIgnoresForeignFiles(t *testing.T) {
	for name, url := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := openTest(t, url)
			k := s.Key(testModel, "docs", 3, 40, 49)
			if err := s.Upload(ctx, k, genRows(4, "docs", 3, 40)); err != nil {
				t.Fatal(err)
			}
			p := k.PartitionPrefix()
			foreign := []string{
				p + "_SUCCESS",
				p + "notes.txt",
				p + "00000000000000000050-99.parquet", // not canonical
				p + "00000000000000000900-00000000000000000999.parquet.tmp",                                       // temp name
				p + "sub/00000000000000000900-00000000000000000999.parquet",                                       // nested
				"elsewhere/" + strings.TrimPrefix(s.Key(testModel, "docs", 3, 900, 999).String(), s.Prefix()+"/"), // other prefix
			}
			for _, f := range foreign {
				if err := s.Bucket().WriteAll(ctx, f, []byte("not parquet"), nil); err != nil {
					t.Fatalf("write foreign %s: %v", f, err)
				}
			}
			last, ok, err := s.LastOffset(ctx, testModel, "docs", 3)
			if err != nil || !ok || last != 49 {
				t.Fatalf("LastOffset = %d, %v, %v; want 49, true, nil", last, ok, err)
			}
			rows, err := s.ReadAll(ctx, testModel)
			if err != nil || len(rows) != 4 {
				t.Fatalf("ReadAll = %d rows, %v; want 4 rows", len(rows), err)
			}
		})
	}
}

func TestUploadOverwrites(t *testing.T) {
	ctx := context.Background()
	var events []UploadEvent
	s := openTest(t, "file://"+filepath.ToSlash(t.TempDir()), WithUploadObserver(func(e UploadEvent) { events = append(events, e) }))
	k := s.Key(testModel, "docs", 0, 0, 9)
	for _, n := range []int{50, 12} {
		if err := s.Upload(ctx, k, genRows(n, "docs", 0, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if len(events) != 2 || events[1].Err != nil || events[1].Attempts != 1 || events[1].Rows != 12 ||
		events[0].Bytes <= events[1].Bytes || events[1].Key != k {
		t.Errorf("observer saw %+v, want two successful single-attempt uploads of 50 and 12 rows", events)
	}
	rows, err := s.ReadAll(ctx, testModel)
	if err != nil || len(rows) != 12 {
		t.Fatalf("after overwrite: %d rows, %v; want 12", len(rows), err)
	}
	// No temporary files are left next to the data.
	entries, err := os.ReadDir(filepath.Join(strings.TrimPrefix(s.name, "file://"), strings.TrimSuffix(k.PartitionPrefix(), "/")))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != filepath.Base(k.String()) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("partition directory holds %v, want only %s", names, filepath.Base(k.String()))
	}
}

func TestUploadRejects(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "mem://x/p")
	tests := []struct {
		name string
		key  Key
		rows []Row
		want string
	}{
		{"foreign prefix", Key{Prefix: "q", Model: testModel, Topic: "t", Last: 1}, nil, `key prefix "q" is not the store prefix "p"`},
		{"bad model", Key{Model: "bilstm", Topic: "t"}, nil, "model directory"},
		{"bad range", Key{Model: testModel, Topic: "t", First: 5, Last: 4}, nil, "before first"},
		{"bad row", Key{Model: testModel, Topic: "t"}, []Row{{DocID: "d", Op: "x"}}, `op "x"`},
	}
	for _, tc := range tests {
		err := s.Upload(ctx, tc.key, tc.rows)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "mem://x/p") {
			t.Errorf("%s: Upload error %v, want one naming the bucket and containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := s.ReadAll(ctx, "bad"); err == nil {
		t.Error("ReadAll accepted a bad model directory")
	}
	if _, err := s.Files(ctx, testModel, "bad topic", 0); err == nil {
		t.Error("Files accepted a bad topic")
	}
}

// TestUnreachableBucket: a closed S3 endpoint gives a clear error naming
// bucket and key after the configured number of attempts, not a hang.
func TestUnreachableBucket(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	endpoint := srv.URL
	srv.Close()
	url := "s3://lost-bucket/out?region=us-east-1&use_path_style=true&endpoint=" + endpoint
	var events []UploadEvent
	s := openTest(t, url, WithRetry(3, 10*time.Millisecond, 50*time.Millisecond, 10*time.Second),
		WithUploadObserver(func(e UploadEvent) { events = append(events, e) }))
	k := s.Key(testModel, "docs", 0, 0, 9)
	start := time.Now()
	err := s.Upload(context.Background(), k, genRows(10, "docs", 0, 0))
	took := time.Since(start)
	if err == nil {
		t.Fatal("upload to a closed server succeeded")
	}
	for _, want := range []string{"s3://lost-bucket/out", k.String(), "after 3 attempt(s)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if took > 5*time.Second {
		t.Errorf("gave up after %v, want well under 5s with 3 quick attempts", took)
	}
	if len(events) != 1 || events[0].Attempts != 3 || events[0].Err == nil || events[0].Bytes == 0 ||
		events[0].Rows != 10 || events[0].Key.Prefix != "out" {
		t.Errorf("observer saw %+v, want one failed event with 3 attempts, 10 rows, prefix out", events)
	}
	if _, _, err := s.LastOffset(context.Background(), testModel, "docs", 0); err == nil || !strings.Contains(err.Error(), "lost-bucket") {
		t.Errorf("LastOffset error %v, want one naming the bucket", err)
	}
	t.Logf("upload to closed endpoint failed after %v: %v", took, err)

	// A cancelled context stops retrying at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow := openTest(t, url, WithRetry(100, time.Second, time.Second, time.Minute))
	start = time.Now()
	if err := slow.Upload(ctx, k, nil); err == nil {
		t.Fatal("upload with cancelled context succeeded")
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("cancelled upload took %v", time.Since(start))
	}
}

func TestOpenBucketRejects(t *testing.T) {
	tests := []struct{ url, want string }{
		{"ftp://host/x", `unsupported scheme "ftp"`},
		{"s3:///prefix", "no bucket name"},
		{"s3://b/p?colour=red", `unknown query parameter "colour"`},
		{"s3://b/p?use_path_style=maybe", "use_path_style"},
		{"s3://b/p?endpoint=localhost:9000", "not an http(s) URL"},
		{"file://remote/dir", "not empty or localhost"},
		{"mem://b/model=x/y", "looks like a key directory"},
		{"mem://b/a//b?prefix=c", "empty"},
		{"gs:///x", "no bucket name"},
		{"%zz", "open bucket"},
	}
	for _, tc := range tests {
		s, err := OpenBucket(context.Background(), tc.url, WithS3Credentials(staticCreds))
		if err == nil {
			s.Close()
			t.Errorf("OpenBucket(%q) succeeded", tc.url)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("OpenBucket(%q) error %q does not contain %q", tc.url, err, tc.want)
		}
	}
}

func TestOpenBucketPrefixes(t *testing.T) {
	dir := filepath.ToSlash(t.TempDir())
	tests := []struct{ url, want string }{
		{"mem://b", ""},
		{"mem://b/", ""},
		{"mem://b/a/b/", "a/b"},
		{"mem://b/a?prefix=/c/d/", "a/c/d"},
		{"file://" + dir, ""},
		{"file://" + dir + "/sub?prefix=x", "x"},
		{fakeS3(t, "bk", ""), ""},
	}
	for _, tc := range tests {
		s := openTest(t, tc.url)
		if s.Prefix() != tc.want {
			t.Errorf("OpenBucket(%q).Prefix() = %q, want %q", tc.url, s.Prefix(), tc.want)
		}
		k := s.Key(testModel, "t", 0, 1, 2)
		if err := s.Upload(context.Background(), k, genRows(2, "t", 0, 1)); err != nil {
			t.Errorf("%s: Upload: %v", tc.url, err)
			continue
		}
		if keys, err := s.Files(context.Background(), testModel, "t", 0); err != nil || len(keys) != 1 || keys[0] != k {
			t.Errorf("%s: Files = %v, %v; want [%v]", tc.url, keys, err, k)
		}
	}
}

// randomRows returns rows whose text is incompressible, about size bytes of
// Parquet in all.
func randomRows(size int) []Row {
	rng := rand.New(rand.NewPCG(7, 8))
	const per = 2000
	rows := make([]Row, 0, size/per+1)
	buf := make([]byte, per)
	for i := 0; len(rows)*per < size; i++ {
		for j := range buf {
			buf[j] = byte('!' + rng.IntN(94))
		}
		rows = append(rows, Row{DocID: fmt.Sprint(i), ChunkIndex: 0, Begin: 0, End: per, Text: string(buf),
			Label: "protein", Confidence: 0.5, ModelName: "m", ModelVersion: "v", Topic: "t", Offset: int64(i), Op: OpUpsert})
	}
	return rows
}

// TestLargeFileThroughS3 uploads a file larger than the SDK's multipart part
// size, so the upload goes through the multipart path of the fake S3 too.
func TestLargeFileThroughS3(t *testing.T) {
	if testing.Short() {
		t.Skip("large upload skipped in -short mode")
	}
	ctx := context.Background()
	var size int
	s := openTest(t, fakeS3(t, "big", "x"), WithUploadObserver(func(e UploadEvent) { size = e.Bytes }))
	rows := randomRows(12 << 20)
	k := s.Key(testModel, "t", 0, 0, int64(len(rows)-1))
	if err := s.Upload(ctx, k, rows); err != nil {
		t.Fatal(err)
	}
	if size < 10<<20 {
		t.Fatalf("file is only %d bytes; the test needs more than one 8 MiB part", size)
	}
	got, err := s.ReadAll(ctx, testModel)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) || got[len(got)-1] != rows[len(rows)-1] || got[0] != rows[0] {
		t.Fatalf("read back %d rows, want %d identical", len(got), len(rows))
	}
	attrs, err := s.Bucket().Attributes(ctx, k.String())
	if err != nil || attrs.Size != int64(size) {
		t.Fatalf("stored object: %+v, %v; want %d bytes", attrs, err, size)
	}
}

// TestS3DefaultClient: without WithHTTPClient/WithS3Credentials the store
// takes keys from the environment and builds its own HTTP client, which
// honours AWS_CA_BUNDLE when it names a bundle and says so when it does not.
func TestS3DefaultClient(t *testing.T) {
	url := fakeS3(t, "env", "p")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	for _, tc := range []struct {
		name, bundle, wantErr string
	}{
		{"no bundle", "", ""},
		{"system bundle", systemBundle(), ""},
		{"missing bundle", filepath.Join(t.TempDir(), "nope.pem"), "AWS_CA_BUNDLE"},
		{"not PEM", writeTemp(t, "junk"), "no PEM certificates"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "system bundle" && tc.bundle == "" {
				t.Skip("no system CA bundle file found")
			}
			t.Setenv("AWS_CA_BUNDLE", tc.bundle)
			s, err := OpenBucket(context.Background(), url, WithLogger(quiet))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("OpenBucket error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			k := s.Key(testModel, "t", 0, 0, 0)
			if err := s.Upload(context.Background(), k, genRows(3, "t", 0, 0)); err != nil {
				t.Fatal(err)
			}
			if last, ok, err := s.LastOffset(context.Background(), testModel, "t", 0); err != nil || !ok || last != 0 {
				t.Fatalf("LastOffset = %d, %v, %v", last, ok, err)
			}
		})
	}
}

func systemBundle() string {
	for _, p := range []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func writeTemp(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// BenchmarkUpload measures Store.Upload end to end (encode + put) for a
// 10k-row file against each backend; rows/s includes encoding.
func BenchmarkUpload(b *testing.B) {
	rows := benchRows(10_000)
	for _, bk := range []struct{ name, url string }{
		{"mem", "mem://b/p"},
		{"file", "file://" + filepath.ToSlash(b.TempDir())},
		{"s3fake", fakeS3(b, "bench", "p")},
	} {
		b.Run(bk.name, func(b *testing.B) {
			s, err := OpenBucket(context.Background(), bk.url, WithS3Credentials(staticCreds), WithLogger(quiet))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetBytes(rawSize(rows))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				k := s.Key(testModel, "docs", 0, int64(i)*1000, int64(i)*1000+999)
				if err := s.Upload(context.Background(), k, rows); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(rows))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// TestClaimSettings: the first claim records a model directory's settings,
// equal settings (in any key order) pass, other settings are refused naming
// each difference, and the record is invisible to listings and readers.
func TestClaimSettings(t *testing.T) {
	for name, url := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := openTest(t, url)
			first := []byte(`{"decoding":"viterbi","overlap":32,"labels":[]}`)
			if err := s.ClaimSettings(ctx, testModel, first); err != nil {
				t.Fatalf("first claim: %v", err)
			}
			if err := s.ClaimSettings(ctx, testModel, []byte(`{"labels":[],"overlap":32,"decoding":"viterbi"}`)); err != nil {
				t.Fatalf("equal settings refused: %v", err)
			}
			err := s.ClaimSettings(ctx, testModel, []byte(`{"decoding":"argmax","overlap":32,"labels":["protein"]}`))
			if !errors.Is(err, ErrOtherSettings) || !strings.Contains(err.Error(), `decoding: recorded "viterbi", now "argmax"`) ||
				!strings.Contains(err.Error(), `labels: recorded [], now ["protein"]`) || strings.Contains(err.Error(), "overlap") {
				t.Fatalf("other settings: %v; want ErrOtherSettings naming decoding and labels only", err)
			}
			if err := s.ClaimSettings(ctx, "bilstm-ffffffffffff", []byte(`{"decoding":"argmax"}`)); err != nil {
				t.Fatalf("another model directory has its own settings: %v", err)
			}
			if err := s.Upload(ctx, s.Key(testModel, "docs", 0, 0, 9), genRows(3, "docs", 0, 0)); err != nil {
				t.Fatal(err)
			}
			if keys, err := s.Keys(ctx, ""); err != nil || len(keys) != 1 {
				t.Fatalf("Keys = %v, %v; want only the chunks file", keys, err)
			}
			if rows, err := s.ReadAll(ctx, testModel); err != nil || len(rows) != 3 {
				t.Fatalf("ReadAll = %d rows, %v", len(rows), err)
			}
		})
	}
}
