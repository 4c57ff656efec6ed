package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/store/sqlstore"
	"github.com/stewardhq/steward/store/sqlstore/sqlstoretest"
	"github.com/stewardhq/steward/store/storetest"
)

func auditKey(t testing.TB, b byte) steward.AuditKey {
	t.Helper()
	k, err := steward.NewAuditKey(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func auditKeys(t testing.TB, keys ...steward.AuditKey) *steward.AuditKeys {
	t.Helper()
	ks, err := steward.NewAuditKeys(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// reseal returns a forger's sealer: every sealed event sealed anew with k,
// named as sealed by the key with id.
func reseal(k steward.AuditKey, id string) func(e *steward.Event) {
	return func(e *steward.Event) {
		if e.MAC != "" {
			e.KeyID, e.MAC = id, k.Seal(e.Hash)
		}
	}
}

// wantBroken fails unless err is a ChainError at seq whose reason says
// reason.
func wantBroken(t *testing.T, err error, seq int64, reason string) {
	t.Helper()
	var ce *steward.ChainError
	if !errors.As(err, &ce) || ce.Seq != seq || !strings.Contains(ce.Reason, reason) {
		t.Fatalf("err = %v, want a ChainError at event %d saying %q", err, seq, reason)
	}
}

// TestSealedChainRewritten rewrites the whole audit log in the database
// the ways a writer of it without the audit key could, every hash
// recomputed so that the SHA-256 chain holds, and checks that verify with
// the key catches each, and that a checkpoint signed before catches each
// without the key. Events up to B (the migrations) predate the key; B+1
// to B+4 are sealed, and the checkpoint names B+4.
func TestSealedChainRewritten(t *testing.T) {
	t.Parallel()
	key, wrong := auditKey(t, 1), auditKey(t, 2)
	strip := func(e *steward.Event) { e.KeyID, e.MAC = "", "" }
	for name, tc := range map[string]struct {
		seal   func(e *steward.Event)
		at     int64 // relative to B
		reason string
	}{
		"hashes recomputed":             {nil, 2, "seal does not match"},
		"seals stripped":                {strip, 4, "no event is sealed"},
		"resealed with another key":     {reseal(wrong, wrong.ID), 1, "not among the keys given"},
		"resealed, the key's id forged": {reseal(wrong, key.ID), 1, "seal does not match"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			each(t, func(t *testing.T, db *sqlstore.DB) {
				ctx := steward.WithActor(context.Background(), "test")
				base, err := db.VerifyAudit(ctx)
				if err != nil {
					t.Fatal(err)
				}
				sqlstore.SetAuditKeys(db, auditKeys(t, key))
				for n := 0; n < 4; n++ {
					storetest.MustTeam(t, db, nil)
				}
				r, err := db.VerifyAuditWith(ctx, steward.ChainCheck{Keys: db.AuditKeys()})
				if err != nil || r.Unsealed != base || r.Sealed != 4 || r.SealsChecked != 4 || r.Head.Seq != base+4 {
					t.Fatalf("intact sealed chain: %+v, %v", r, err)
				}
				pub, priv, _ := ed25519.GenerateKey(nil)
				cp := steward.SignCheckpoint(priv, r.Head.Seq, r.Head.Hash, r.Head.Time, storetest.Epoch)
				if err := cp.Verify([]ed25519.PublicKey{pub}); err != nil {
					t.Fatal(err)
				}

				sqlstoretest.RewriteChain(t, sqlstore.RawSQL(db), sqlstore.OnPostgres(db), func(e *steward.Event) {
					if e.Seq == base+2 {
						e.Actor = "mallory"
					}
				}, tc.seal)

				// Without the key or a checkpoint the rewrite passes: that
				// is what the key and the checkpoint are for.
				if _, err := db.VerifyAuditWith(ctx, steward.ChainCheck{}); err != nil {
					t.Fatalf("the SHA-256 chain alone: %v", err)
				}
				_, err = db.VerifyAudit(ctx) // with the store's key
				wantBroken(t, err, base+tc.at, tc.reason)
				_, err = db.VerifyAuditWith(ctx, steward.ChainCheck{Checkpoint: cp})
				wantBroken(t, err, base+4, "rewritten")
			})
		})
	}
}

// TestSealedChainRotation: after a rotation the new key seals, the old one
// still verifies the events it sealed, and verify without the old key
// names it; events deleted from the end are caught by the head's seal.
func TestSealedChainRotation(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		base, err := db.VerifyAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		k1, k2 := auditKey(t, 1), auditKey(t, 2)
		sqlstore.SetAuditKeys(db, auditKeys(t, k1))
		storetest.MustTeam(t, db, nil)
		sqlstore.SetAuditKeys(db, auditKeys(t, k2, k1))
		storetest.MustTeam(t, db, nil)
		storetest.MustTeam(t, db, nil)
		r, err := db.VerifyAuditWith(ctx, steward.ChainCheck{Keys: db.AuditKeys()})
		if err != nil || r.Sealed != 3 || len(r.KeyIDs) != 2 || r.KeyIDs[0] != k1.ID || r.KeyIDs[1] != k2.ID {
			t.Fatalf("rotated chain: %+v, %v", r, err)
		}
		_, err = db.VerifyAuditWith(ctx, steward.ChainCheck{Keys: auditKeys(t, k2)})
		wantBroken(t, err, base+1, k1.ID)

		// The newest event deleted and the head moved back to the one
		// before: the head's seal no longer matches.
		if err := sqlstore.ExecRaw(ctx, db, fmt.Sprintf(`DELETE FROM events WHERE seq = %d`, base+3)); err != nil {
			t.Fatal(err)
		}
		if err := sqlstore.ExecRaw(ctx, db, fmt.Sprintf(`UPDATE audit_head SET seq = %[1]d, hash = (SELECT hash FROM events WHERE seq = %[1]d) WHERE id = 1`, base+2)); err != nil {
			t.Fatal(err)
		}
		if _, err := db.VerifyAuditWith(ctx, steward.ChainCheck{}); err != nil {
			t.Fatalf("the chain cut short, without the key: %v", err)
		}
		_, err = db.VerifyAudit(ctx)
		wantBroken(t, err, base+2, "head row's seal does not match")

		// A Steward without a key refuses to write after sealed events.
		sqlstore.SetAuditKeys(db, nil)
		if err := db.Migrate(ctx); steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(err.Error(), k2.ID) {
			t.Fatalf("migrate without a key on a sealed log: %v", err)
		}
	})
}

// TestSealedFromTheStart: a store opened with a key on a new database
// seals every event from the migration that makes room for seals on; the
// migrations before it are the unsealed start of the chain.
func TestSealedFromTheStart(t *testing.T) {
	t.Parallel()
	for name, dsn := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "steward.db") },
		"postgres": func(t *testing.T) string { return sqlstoretest.FreshSchemaDSN(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			key := auditKey(t, 3)
			db, err := sqlstore.Open(dsn(t), sqlstore.Options{Clock: storetest.NewClock(storetest.Epoch), AuditKeys: auditKeys(t, key), MaxConns: 4})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			storetest.MustTeam(t, db, nil)
			r, err := db.VerifyAuditWith(ctx, steward.ChainCheck{Keys: db.AuditKeys()})
			if err != nil {
				t.Fatal(err)
			}
			page, err := db.Events(ctx, steward.EventFilter{Action: steward.ActionSchemaMigrated, ObjectID: "15"})
			if err != nil || len(page.Items) != 1 {
				t.Fatalf("the event of migration 15: %v, %v", page, err)
			}
			if r.Unsealed != page.Items[0].Seq-1 || r.Sealed != r.Events-r.Unsealed || r.SealsChecked != r.Sealed || r.KeyIDs[0] != key.ID {
				t.Fatalf("report %+v; migration 15 is event %d", r, page.Items[0].Seq)
			}
		})
	}
}
