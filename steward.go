// Package steward holds Steward's domain: the nouns of identity governance
// (people, teams, systems, identities, credentials, entitlements, grants and the
// audit chain), the rules each of them checks about itself, the service
// interfaces that adapters implement, and the one error type.
//
// It imports only the standard library. Adapters (store/sqlstore, http, web,
// demo) depend on it; cmd/steward wires them together.
package steward

import (
	"context"
	"time"
)

// Version is set at build time with -ldflags "-X github.com/stewardhq/steward.Version=...".
var Version = "dev"

// Clock tells the time. Services take a Clock so that tests control time.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock, in UTC.
type SystemClock struct{}

// Now returns the current UTC time.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// FixedClock always returns T; for tests.
type FixedClock struct{ T time.Time }

// Now returns c.T.
func (c FixedClock) Now() time.Time { return c.T }

type actorKey struct{}

// WithActor returns a context that names who is acting ("token:ci-bot",
// "local-admin:alice", "system:demo"). Stores record it on every audit
// event.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor set by WithActor, or "system" if none was set.
func ActorFrom(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "system"
}
