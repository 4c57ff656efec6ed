package web

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/stewardhq/steward"
)

// CallbackPath is where the OpenID provider sends the browser back after
// sign-in. The redirect URL registered at the provider ends with it.
const CallbackPath = "/signin/oidc/callback"

// OIDC configures sign-in through an OpenID provider: the authorization
// code flow with PKCE, a nonce and a state bound to the browser.
type OIDC struct {
	// Issuer is the provider's issuer URL, exactly as its discovery
	// document (Issuer + "/.well-known/openid-configuration") says it.
	// Required.
	Issuer string
	// ClientID is Steward's client id at the provider. Required.
	ClientID string
	// ClientSecret is Steward's client secret; empty for a public client,
	// which PKCE alone protects. It is read from a file or the environment,
	// never kept in the configuration file.
	ClientSecret string
	// RedirectURL is the callback URL registered at the provider: the
	// public URL of Steward followed by CallbackPath. Required.
	RedirectURL string
	// Scopes are asked of the provider. Default: openid, email, profile
	// (openid is always asked). Add the scope that releases the groups
	// claim if the provider needs one.
	Scopes []string
	// Mapping says which claim names the person and which groups give
	// which role. Default: by e-mail address, everyone a member.
	Mapping steward.ClaimMapping
	// JITPeople creates a person the directory does not know at their
	// first sign-in, with a person.created event. Default: false, such a
	// person is refused with a page that says whom to ask.
	JITPeople bool
	// Contact is whom a refused person should ask, shown on the refusal
	// page ("the identity team, #iam-help"). Default: "a Steward
	// administrator".
	Contact string
	// Client makes the requests to the provider. Default: a client with a
	// 10-second timeout.
	Client *http.Client
}

// Validate returns EINVALID describing the first problem with c.
func (c *OIDC) Validate() error {
	u, err := url.Parse(c.Issuer)
	if c.Issuer == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return steward.Errorf(steward.EINVALID, "oidc issuer %q must be the provider's http(s) issuer URL.", c.Issuer)
	}
	if strings.TrimSpace(c.ClientID) == "" {
		return steward.Errorf(steward.EINVALID, "oidc client_id is required.")
	}
	r, err := url.Parse(c.RedirectURL)
	if c.RedirectURL == "" || err != nil || (r.Scheme != "https" && r.Scheme != "http") || r.Host == "" || r.Path != CallbackPath || r.RawQuery != "" {
		return steward.Errorf(steward.EINVALID, "oidc redirect_url %q must be Steward's public URL followed by %s, as registered at the provider.", c.RedirectURL, CallbackPath)
	}
	m := c.Mapping.WithDefaults()
	if err := m.Validate(); err != nil {
		return steward.Errorf(steward.EINVALID, "oidc: %s", steward.ErrorMessage(err))
	}
	return nil
}

// relyingParty is Steward's side of the OpenID Connect flow. The provider's
// discovery document is read at the first sign-in, not at start, so that
// Steward starts (and token sign-in works) while the provider is down; a
// failed discovery is tried again at the next sign-in.
type relyingParty struct {
	cfg OIDC

	mu       sync.Mutex
	provider *oidc.Provider
}

// providerTimeout bounds each request to the provider.
const providerTimeout = 10 * time.Second

func (rp *relyingParty) client() *http.Client {
	if rp.cfg.Client != nil {
		return rp.cfg.Client
	}
	return &http.Client{Timeout: providerTimeout}
}

// ctx returns a context whose requests go through the provider's client.
func (rp *relyingParty) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, rp.client())
}

// discover returns the provider, reading its discovery document once.
func (rp *relyingParty) discover(ctx context.Context) (*oidc.Provider, error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.provider != nil {
		return rp.provider, nil
	}
	p, err := oidc.NewProvider(rp.ctx(ctx), rp.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	rp.provider = p
	return p, nil
}

func (rp *relyingParty) oauth(p *oidc.Provider) *oauth2.Config {
	scopes := []string{oidc.ScopeOpenID}
	asked := rp.cfg.Scopes
	if len(asked) == 0 {
		asked = []string{"email", "profile"}
	}
	for _, s := range asked {
		if s != oidc.ScopeOpenID {
			scopes = append(scopes, s)
		}
	}
	return &oauth2.Config{ClientID: rp.cfg.ClientID, ClientSecret: rp.cfg.ClientSecret,
		Endpoint: p.Endpoint(), RedirectURL: rp.cfg.RedirectURL, Scopes: scopes}
}

// FlowCookie carries one sign-in's state, nonce, PKCE verifier and the page
// to go on to, from the redirect to the provider until its answer. It is
// SameSite=Lax, since the answer is a navigation from the provider's site,
// and lives for flowTTL on the callback's path only.
const FlowCookie = "steward_oidc"

// flowTTL is how long a person has to sign in at the provider.
const flowTTL = 10 * time.Minute

// flow is what FlowCookie carries.
type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
}

// oidcStart sends the browser to the provider with a fresh state, nonce and
// PKCE challenge, remembered in the flow cookie.
func (s *server) oidcStart(w http.ResponseWriter, r *http.Request) {
	if s.rp == nil {
		s.notFound(w, r)
		return
	}
	p, err := s.rp.discover(r.Context())
	if err != nil {
		s.logger.WarnContext(r.Context(), "OpenID provider discovery failed", "issuer", s.rp.cfg.Issuer, "err", err)
		s.refuse(w, r, http.StatusServiceUnavailable, "The sign-in provider cannot be reached", "", "Steward could not read the provider's configuration at "+s.rp.cfg.Issuer+" just now.",
			"Try again in a moment. If it keeps failing, tell "+s.rp.contact()+"; until then, sign in with an API token.")
		return
	}
	f := flow{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier(), Next: safeNext(r.URL.Query().Get("next"))}
	b, _ := json.Marshal(f)
	http.SetCookie(w, s.flowCookie(r, base64.RawURLEncoding.EncodeToString(b), int(flowTTL/time.Second)))
	target := s.rp.oauth(p).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	http.Redirect(w, r, target, http.StatusFound)
}

// flowCookie is the cookie of a sign-in in progress: s.cookie's, but only
// for the callback path, and SameSite=Lax because the provider's redirect
// back to the callback is a navigation another site starts.
func (s *server) flowCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	c := s.cookie(r, FlowCookie, value, maxAge) // #nosec G124 -- s.cookie's attributes, with SameSite=Lax as said above
	c.Path, c.SameSite = CallbackPath, http.SameSiteLaxMode
	return c
}

// randomString returns 32 random bytes, URL-safe: a state or a nonce.
func randomString() string {
	raw, _ := steward.NewSecret("")
	return raw
}

// readFlow returns the flow the request's cookie carries, or false.
func readFlow(r *http.Request) (flow, bool) {
	var f flow
	c, err := r.Cookie(FlowCookie)
	if err != nil {
		return f, false
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(b) > 1024 || json.Unmarshal(b, &f) != nil || f.State == "" || f.Nonce == "" || f.Verifier == "" {
		return flow{}, false
	}
	return f, true
}

// oidcCallback finishes a sign-in: it checks the provider's answer against
// the flow cookie, exchanges the code with the PKCE verifier, verifies the
// ID token and its nonce, reads the claims, decides the person and role,
// and starts a session of that person.
func (s *server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if s.rp == nil {
		s.notFound(w, r)
		return
	}
	q := r.URL.Query()
	f, ok := readFlow(r)
	http.SetCookie(w, s.flowCookie(r, "", -1))
	again := "Sign in again from Steward's sign-in page."
	switch {
	case !ok:
		s.refuse(w, r, http.StatusBadRequest, "This sign-in cannot be finished", "",
			"The sign-in was not started in this browser, or took longer than "+flowTTL.String()+".", again)
		return
	case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1:
		s.refuse(w, r, http.StatusBadRequest, "This sign-in cannot be finished", "",
			"The provider's answer does not belong to the sign-in this browser started.", again)
		return
	case q.Get("error") != "":
		why := "The sign-in provider refused the sign-in: " + clip(q.Get("error"), 100)
		if d := q.Get("error_description"); d != "" {
			why += " (" + clip(d, 300) + ")"
		}
		s.refuse(w, r, http.StatusUnauthorized, "The sign-in provider refused", "", why+".", again+" If it keeps failing, tell "+s.rp.contact()+".")
		return
	}
	claims, err := s.rp.exchange(r.Context(), q.Get("code"), f)
	if err != nil {
		s.logger.WarnContext(r.Context(), "OpenID sign-in failed", "issuer", s.rp.cfg.Issuer, "err", err)
		status, why := http.StatusUnauthorized, "The provider's answer could not be verified."
		if errors.Is(err, errProviderDown) {
			status, why = http.StatusServiceUnavailable, "Steward could not reach the sign-in provider to finish the sign-in."
		}
		s.refuse(w, r, status, "Sign-in failed", "", why, again+" If it keeps failing, tell "+s.rp.contact()+".")
		return
	}
	s.signInPerson(w, r, claims, f.Next)
}

// errProviderDown marks a failure to reach the provider, as opposed to an
// answer that does not verify.
var errProviderDown = errors.New("provider unreachable")

// exchange turns the authorization code into verified claims: the ID
// token's, with the userinfo endpoint's for what the token leaves out.
func (rp *relyingParty) exchange(ctx context.Context, code string, f flow) (steward.Claims, error) {
	p, err := rp.discover(ctx)
	if err != nil {
		return steward.Claims{}, fmt.Errorf("%w: %v", errProviderDown, err)
	}
	cfg := rp.oauth(p)
	ctx = rp.ctx(ctx)
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) {
			err = fmt.Errorf("%w: %v", errProviderDown, err)
		}
		return steward.Claims{}, fmt.Errorf("code exchange: %w", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return steward.Claims{}, errors.New("the token response has no id_token")
	}
	idt, err := p.VerifierContext(ctx, &oidc.Config{ClientID: rp.cfg.ClientID}).Verify(ctx, rawID)
	if err != nil {
		return steward.Claims{}, fmt.Errorf("id token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return steward.Claims{}, errors.New("id token: the nonce is not this sign-in's")
	}
	var idClaims json.RawMessage
	if err := idt.Claims(&idClaims); err != nil {
		return steward.Claims{}, fmt.Errorf("id token claims: %w", err)
	}
	var infoClaims json.RawMessage
	if p.UserInfoEndpoint() != "" {
		info, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return steward.Claims{}, fmt.Errorf("%w: userinfo: %v", errProviderDown, err)
		}
		if err := info.Claims(&infoClaims); err != nil {
			return steward.Claims{}, fmt.Errorf("userinfo claims: %w", err)
		}
	}
	return parseClaims(idClaims, infoClaims, rp.cfg.Mapping.GroupsClaim)
}

// parseClaims reads the claims Steward uses from an ID token's payload and
// a userinfo answer (nil when there is none). The ID token's signed claims
// come first; userinfo fills in only what it leaves out, and must be about
// the same subject (OpenID Connect Core 5.3.2). The groups claim may be a
// list of names or one name.
func parseClaims(idToken, userinfo []byte, groupsClaim string) (steward.Claims, error) {
	var c steward.Claims
	var id, info map[string]json.RawMessage
	if err := json.Unmarshal(idToken, &id); err != nil || id == nil {
		return c, errors.New("id token claims are not a JSON object")
	}
	if len(userinfo) > 0 {
		if err := json.Unmarshal(userinfo, &info); err != nil || info == nil {
			return c, errors.New("userinfo claims are not a JSON object")
		}
	}
	get := func(name string) json.RawMessage {
		if v, ok := id[name]; ok && string(v) != "null" {
			return v
		}
		return info[name]
	}
	str := func(name string) string {
		var s string
		if v := get(name); v != nil && json.Unmarshal(v, &s) != nil {
			return ""
		}
		return strings.TrimSpace(s)
	}
	c.Issuer, c.Subject, c.Email = str("iss"), str("sub"), str("email")
	if c.Subject == "" {
		return steward.Claims{}, errors.New("the id token names no subject")
	}
	var infoSub string
	if v, ok := info["sub"]; ok && (json.Unmarshal(v, &infoSub) != nil || infoSub != c.Subject) {
		return steward.Claims{}, errors.New("userinfo is about another subject than the id token")
	}
	if v := get("email_verified"); v != nil {
		var b bool
		var s string
		switch {
		case json.Unmarshal(v, &b) == nil:
			c.EmailVerified = &b
		case json.Unmarshal(v, &s) == nil && (s == "true" || s == "false"):
			b = s == "true"
			c.EmailVerified = &b
		}
	}
	c.Name = str("name")
	if c.Name == "" {
		c.Name = str("preferred_username")
	}
	if groupsClaim != "" {
		if v := get(groupsClaim); v != nil {
			var list []string
			var one string
			if json.Unmarshal(v, &list) == nil {
				c.Groups = list
			} else if json.Unmarshal(v, &one) == nil && one != "" {
				c.Groups = []string{one}
			}
		}
	}
	return c, nil
}

// signInPerson maps the verified claims to a person and a role, creates the
// person if the configuration allows, and starts their session. A person
// Steward cannot or will not sign in sees a page that says who they are,
// why, and whom to ask.
func (s *server) signInPerson(w http.ResponseWriter, r *http.Request, c steward.Claims, next string) {
	ctx := r.Context()
	who := c.Who() + " at " + s.rp.cfg.Issuer
	in, err := steward.MapClaims(s.rp.cfg.Mapping, c)
	if err != nil {
		s.refuseErr(w, r, who, err)
		return
	}
	person, err := s.store.PersonBySignIn(ctx, in.By, in.Key)
	if steward.IsCode(err, steward.ENOTFOUND) && s.rp.cfg.JITPeople {
		p := steward.SignInPerson(in, c)
		// Created by sign-in itself, as the configuration allows: the
		// event names the provider's subject in its external id.
		jctx := steward.WithPrincipal(ctx, steward.SelfPrincipal("oidc-sign-in"))
		if err = s.store.CreatePerson(jctx, &p); err == nil {
			person = &p
			s.logger.InfoContext(ctx, "person created at first sign-in", "person", p.ExternalID, "issuer", s.rp.cfg.Issuer, "subject", c.Subject)
		}
	}
	if steward.IsCode(err, steward.ENOTFOUND) {
		what := "e-mail address " + in.Key
		if in.By == steward.ClaimSubject {
			what = "external id " + in.Key
		}
		s.refuse(w, r, http.StatusForbidden, "Steward does not know you yet", who,
			"No person in Steward's directory has the "+what+", and Steward does not create people at sign-in: they come from the organisation's directory.",
			"Ask "+s.rp.contact()+" to add you to the directory that Steward reads (or to correct your record there), then sign in again.")
		return
	} else if err != nil {
		s.refuseErr(w, r, who, err)
		return
	}
	raw, err := s.store.CreatePersonSession(ctx, steward.PersonSession{PersonID: person.ID, Role: in.Role, Reason: in.Reason,
		Issuer: c.Issuer, Subject: c.Subject}, SessionTTL)
	if err != nil {
		s.refuseErr(w, r, who, err)
		return
	}
	s.logger.InfoContext(ctx, "person signed in", "person", person.ExternalID, "role", in.Role, "why", in.Reason)
	s.setCookie(w, r, raw)
	// The session cookie is SameSite=Strict, and this answer ends a
	// navigation that started at the provider's site: a redirect from here
	// would be cross-site still, and the browser would not send the new
	// cookie. A page that moves on by itself starts a same-site navigation.
	pr := steward.PersonPrincipal(person, in.Role, "")
	s.render(w, r, http.StatusOK, "continue", continuePage{pageBase: s.base(r, "Signed in", ""), Next: next, Name: pr.Name, Role: in.Role})
}

// continuePage is the data of the page that follows a sign-in.
type continuePage struct {
	pageBase
	Next string
	Name string
	Role steward.Role
}

// refusedPage is the data of the page that refuses a sign-in.
type refusedPage struct {
	pageBase
	Status  int
	Heading string
	Who     string
	Why     string
	Ask     string
}

// refuse shows the refusal page: who the person is (as the provider said),
// why Steward refused, and whom to ask.
func (s *server) refuse(w http.ResponseWriter, r *http.Request, status int, heading, who, why, ask string) {
	if who == "" {
		who = "Not known: the sign-in did not get that far."
	}
	s.logger.InfoContext(r.Context(), "web SSO sign-in refused", "status", status, "who", who, "why", why)
	s.render(w, r, status, "refused", refusedPage{pageBase: s.base(r, heading, ""), Status: status, Heading: heading, Who: who, Why: why, Ask: ask})
}

// refuseErr shows the refusal page for an error of the domain or the store:
// its message when it is the person's to read, a generic one otherwise.
func (s *server) refuseErr(w http.ResponseWriter, r *http.Request, who string, err error) {
	status := errorStatus(err)
	if status >= 500 {
		s.logError(r, err)
		s.refuse(w, r, status, "Sign-in failed", who, "Something went wrong on Steward's side; it has been logged.", "Try again in a moment.")
		return
	}
	s.refuse(w, r, status, "Steward cannot sign you in", who, steward.ErrorMessage(err),
		"Ask "+s.rp.contact()+" if this is not what you expected.")
}

func (rp *relyingParty) contact() string {
	if c := strings.TrimSpace(rp.cfg.Contact); c != "" {
		return c
	}
	return "a Steward administrator"
}

// clip shortens what the provider put in its error answer, which anyone
// who crafts the callback URL can set.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
