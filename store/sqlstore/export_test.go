package sqlstore

// SetDigestChunk makes d write sync digests in rows of n entries, so that a
// test with a few records spans several.
func SetDigestChunk(d *DB, n int) { d.digestChunk = n }
