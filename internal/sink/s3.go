package sink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"
)

// openS3 builds the S3 client itself rather than through gocloud's URL
// opener, so that the HTTP client (and with it TLS roots) is under our
// control: the SDK's own AWS_CA_BUNDLE handling replaces the system roots
// and refuses custom HTTP clients.
//
// The SDK's retryer is limited to one attempt; Store retries every operation
// with its own bounded policy, so the two never multiply.
func openS3(ctx context.Context, bucket string, q url.Values, cfg *bucketConfig) (*blob.Bucket, error) {
	if bucket == "" {
		return nil, errors.New("no bucket name")
	}
	var (
		region    = firstNonEmpty(q.Get("region"), os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1")
		endpoint  = q.Get("endpoint")
		pathStyle bool
		anonymous bool
	)
	for key, vals := range q {
		v := vals[0]
		var err error
		switch key {
		case "region", "endpoint":
		case "use_path_style", "s3ForcePathStyle":
			pathStyle, err = strconv.ParseBool(v)
		case "anonymous":
			anonymous, err = strconv.ParseBool(v)
		default:
			return nil, fmt.Errorf("unknown query parameter %q (known: region, endpoint, use_path_style, anonymous, prefix)", key)
		}
		if err != nil {
			return nil, fmt.Errorf("query parameter %s=%q: %w", key, v, err)
		}
	}
	if endpoint != "" {
		eu, err := url.Parse(endpoint)
		if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" {
			return nil, fmt.Errorf("endpoint %q is not an http(s) URL", endpoint)
		}
	}
	hc := cfg.httpClient
	if hc == nil {
		var err error
		if hc, err = defaultHTTPClient(); err != nil {
			return nil, err
		}
	}
	creds, err := s3Credentials(ctx, region, anonymous, cfg)
	if err != nil {
		return nil, err
	}
	creds = namedCredentials(creds, bucket, endpoint, region)
	opts := s3.Options{
		Region:           region,
		Credentials:      creds,
		HTTPClient:       hc,
		UsePathStyle:     pathStyle,
		RetryMaxAttempts: 1,
	}
	var bopts s3blob.Options
	if endpoint != "" {
		opts.BaseEndpoint = aws.String(endpoint)
		// S3-compatible stores often lack the SDK's newer default checksums.
		opts.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		opts.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		bopts.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	}
	return s3blob.OpenBucket(ctx, s3.New(opts), bucket, &bopts)
}

// s3Credentials picks the credentials provider: the explicit option,
// anonymous access, static keys from the environment, or the SDK default
// chain.
func s3Credentials(ctx context.Context, region string, anonymous bool, cfg *bucketConfig) (aws.CredentialsProvider, error) {
	switch {
	case cfg.credentials != nil:
		return cfg.credentials, nil
	case anonymous:
		return aws.AnonymousCredentials{}, nil
	case os.Getenv("AWS_ACCESS_KEY_ID") != "" && os.Getenv("AWS_SECRET_ACCESS_KEY") != "":
		c := aws.Credentials{
			AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
			SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
			SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
			Source:          "environment",
		}
		return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return c, nil }), nil
	}
	ac, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("load AWS credentials chain: %w", err)
	}
	return ac.Credentials, nil
}

// defaultHTTPClient returns an HTTP client with the standard transport whose
// TLS roots are the system pool plus the PEM bundle in $AWS_CA_BUNDLE.
func defaultHTTPClient() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if path := os.Getenv("AWS_CA_BUNDLE"); path != "" {
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("AWS_CA_BUNDLE: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("AWS_CA_BUNDLE %s: no PEM certificates", path)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	tr.ResponseHeaderTimeout = time.Minute
	return &http.Client{Transport: tr}, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// namedCredentials makes a credentials failure name the bucket and endpoint
// it was for and say how to provide credentials, instead of only the SDK's
// last attempt (usually the EC2 instance metadata service).
func namedCredentials(p aws.CredentialsProvider, bucket, endpoint, region string) aws.CredentialsProvider {
	if endpoint == "" {
		endpoint = "AWS S3 (region " + region + ")"
	}
	return aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		c, err := p.Retrieve(ctx)
		if err != nil {
			return c, fmt.Errorf("no usable credentials for bucket s3://%s at endpoint %s (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance or pod role, or ?anonymous=true): %w", bucket, endpoint, err)
		}
		return c, nil
	}))
}
