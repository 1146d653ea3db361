package sink

// Register the gs:// and azblob:// openers with gocloud's default URL mux;
// OpenBucket passes those URLs (without the key prefix) to blob.OpenBucket.
import (
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/gcsblob"
)
