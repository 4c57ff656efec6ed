package client_test

import (
	"context"
	"encoding/csv"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/client"
	stewardhttp "github.com/stewardhq/steward/http"
	"github.com/stewardhq/steward/store/sqlstore/sqlstoretest"
)

// startServer runs the real API server over a fresh SQLite store and
// returns its URL and an admin token.
func startServer(t *testing.T) (url, token string, store steward.Store) {
	t.Helper()
	db := sqlstoretest.MustOpenSQLite(t, steward.SystemClock{})
	ctx := steward.WithActor(context.Background(), "system:test")
	admin := &steward.Person{ExternalID: "admin", Name: "Admin", Email: "admin@example.test", Status: steward.PersonActive}
	if err := db.CreatePerson(ctx, admin); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	raw, err := db.CreateToken(ctx, &steward.Token{Name: "admin", Role: steward.RoleAdmin, Kind: steward.PrincipalPerson, PersonID: &admin.ID, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer((&stewardhttp.Server{Store: db}).Handler())
	t.Cleanup(ts.Close)
	return ts.URL, raw, db
}

// TestAgainstServer calls the real server through the generated client:
// the client and the server agree on paths, parameters and bodies.
func TestAgainstServer(t *testing.T) {
	t.Parallel()
	url, token, store := startServer(t)
	c, err := client.New(url, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	health, err := c.HealthzWithResponse(ctx)
	if err := client.Check(health, err); err != nil || health.JSON200 == nil || health.JSON200.Status != "ok" {
		t.Fatalf("healthz: %v %+v", err, health)
	}

	created, err := c.CreateTeamWithResponse(ctx, client.TeamInput{Name: "payments", DisplayName: client.Ptr("Payments")})
	if err := client.Check(created, err); err != nil || created.JSON201 == nil || created.JSON201.Id == 0 {
		t.Fatalf("create team: %v %s", err, created.Body)
	}
	got, err := c.GetTeamWithResponse(ctx, created.JSON201.Id)
	if err := client.Check(got, err); err != nil || got.JSON200.Name != "payments" {
		t.Fatalf("get team: %v %s", err, got.Body)
	}
	page, err := c.ListTeamsWithResponse(ctx, &client.ListTeamsParams{Q: client.Ptr("pay"), Limit: client.Ptr(10)})
	if err := client.Check(page, err); err != nil || len(page.JSON200.Items) != 1 || page.JSON200.Next != nil {
		t.Fatalf("list teams: %v %s", err, page.Body)
	}

	// An identity without a team is a gap that team_id=-1 finds: the
	// parameter the document allows below the ids goes through.
	sys := &steward.System{Name: "aws-prod", Kind: steward.SystemAWS}
	if err := store.CreateSystem(ctx, sys); err != nil {
		t.Fatal(err)
	}
	ident, err := c.CreateIdentityWithResponse(ctx, client.IdentityInput{SystemId: sys.ID, ExternalId: "ci", Name: "ci",
		Kind: client.IdentityKindServiceAccount, Environment: client.EnvironmentProd, Criticality: client.LevelHigh})
	if err := client.Check(ident, err); err != nil {
		t.Fatalf("create identity: %v %s", err, ident.Body)
	}
	gaps, err := c.ListGapsWithResponse(ctx, &client.ListGapsParams{TeamId: client.Ptr(int64(-1)), Gap: client.Ptr(client.GapKindUnowned)})
	if err := client.Check(gaps, err); err != nil || len(gaps.JSON200.Items) != 1 || gaps.JSON200.Items[0].IdentityId != ident.JSON201.Id {
		t.Fatalf("gaps without a team: %v %s", err, gaps.Body)
	}
	owner, err := c.SetIdentityOwnerWithResponse(ctx, ident.JSON201.Id, client.OwnerAssignment{TeamId: client.Ptr(created.JSON201.Id)})
	if err := client.Check(owner, err); err != nil || owner.JSON200.TeamName == nil || *owner.JSON200.TeamName != "payments" {
		t.Fatalf("set owner: %v %s", err, owner.Body)
	}
}

// TestCheck maps every kind of failure to the error a caller can act on.
func TestCheck(t *testing.T) {
	t.Parallel()
	url, token, _ := startServer(t)
	ctx := context.Background()

	t.Run("server error", func(t *testing.T) {
		t.Parallel()
		c, _ := client.New(url, token, nil)
		r, err := c.GetIdentityWithResponse(ctx, 999999)
		err = client.Check(r, err)
		if steward.ErrorCode(err) != steward.ENOTFOUND || !strings.Contains(steward.ErrorMessage(err), "999999") {
			t.Errorf("missing identity: %v", err)
		}
	})
	t.Run("no token", func(t *testing.T) {
		t.Parallel()
		c, _ := client.New(url, "", nil)
		r, err := c.ListIdentitiesWithResponse(ctx, nil)
		if err := client.Check(r, err); steward.ErrorCode(err) != steward.EUNAUTHORIZED {
			t.Errorf("without a token: %v", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there any more
		c, _ := client.New("http://"+addr, token, nil)
		r, err := c.ListIdentitiesWithResponse(ctx, nil)
		err = client.Check(r, err)
		if steward.ErrorCode(err) != steward.EUNAVAILABLE || !strings.Contains(steward.ErrorMessage(err), "http://"+addr) {
			t.Errorf("unreachable: %v", err)
		}
	})
	t.Run("not Steward's error", func(t *testing.T) {
		t.Parallel()
		// A stand-in for a proxy in front of Steward that answers on its
		// own: no Steward server can be made to answer so.
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "upstream is down", http.StatusBadGateway)
		}))
		defer proxy.Close()
		c, _ := client.New(proxy.URL, token, nil)
		r, err := c.ListIdentitiesWithResponse(ctx, nil)
		if err := client.Check(r, err); steward.ErrorCode(err) != steward.EUNAVAILABLE || !strings.Contains(steward.ErrorMessage(err), "502") {
			t.Errorf("proxy error: %v", err)
		}
	})
	t.Run("bad server URL", func(t *testing.T) {
		t.Parallel()
		for _, bad := range []string{"127.0.0.1:8080", "ftp://example.com", "http://", "::"} {
			if _, err := client.New(bad, token, nil); steward.ErrorCode(err) != steward.EINVALID {
				t.Errorf("New(%q) = %v, want EINVALID", bad, err)
			}
		}
	})
}

// TestStreaming reads the CSV export through a NewStreaming client's raw
// method: a success leaves the body to read as it comes, a refusal is the
// server's error.
func TestStreaming(t *testing.T) {
	t.Parallel()
	url, token, store := startServer(t)
	ctx := context.Background()
	sys := &steward.System{Name: "aws-prod", Kind: steward.SystemAWS}
	if err := store.CreateSystem(ctx, sys); err != nil {
		t.Fatal(err)
	}
	c, err := client.NewStreaming(url, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ci", "deploy"} {
		r, err := c.CreateIdentityWithResponse(ctx, client.IdentityInput{SystemId: sys.ID, ExternalId: name, Name: name,
			Kind: client.IdentityKindServiceAccount, Environment: client.EnvironmentProd, Criticality: client.LevelHigh})
		if err := client.Check(r, err); err != nil {
			t.Fatalf("create identity: %v", err)
		}
	}

	resp, err := c.ExportIdentities(ctx, &client.ExportIdentitiesParams{System: client.Ptr("aws-prod"), Sort: client.Ptr(client.IdentitySortName)})
	if err := client.CheckResponse(resp, err); err != nil {
		t.Fatalf("export: %v", err)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if err != nil || len(rows) != 3 || !slices.Equal(rows[0], steward.IdentityCSVHeader) || rows[1][1] != "ci" || rows[2][1] != "deploy" {
		t.Fatalf("export: %v %v", err, rows)
	}

	resp, err = c.ExportIdentities(ctx, &client.ExportIdentitiesParams{System: client.Ptr("nowhere")})
	if err := client.CheckResponse(resp, err); steward.ErrorCode(err) != steward.EINVALID || !strings.Contains(steward.ErrorMessage(err), "nowhere") {
		t.Errorf("export of an unknown system: %v", err)
	}
	noToken, _ := client.NewStreaming(url, "", nil)
	resp, err = noToken.ExportIdentities(ctx, nil)
	if err := client.CheckResponse(resp, err); steward.ErrorCode(err) != steward.EUNAUTHORIZED {
		t.Errorf("export without a token: %v", err)
	}
}
