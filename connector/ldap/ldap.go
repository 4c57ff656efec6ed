// Package ldap reads the people of an organisation from an LDAP directory
// (OpenLDAP, Active Directory, 389 DS): who they are, their manager, their
// team and whether they have left. It is Steward's usual people source, the
// place owners come from.
//
// A read makes three paged searches on one connection, each page by page so
// that memory is bounded by the page size and by one small map per person:
//
//  1. the team groups (only with team_from: memberOf): group DN → team slug;
//  2. an index of the people: DN → external id, asking for that one
//     attribute. It resolves manager DNs and catches duplicate ids;
//  3. the people themselves, each yielded as soon as it is read.
//
// The index is what makes a manager resolvable without a lookup per person,
// and lets the source promise that every manager it reports is a person of
// the same stream. For 20,000 people it holds 20,000 short strings, about
// 3 MB, and costs one extra pass that fetches a single attribute (40 pages
// of 500). Looking managers up one by one instead would cost a round trip
// per distinct manager and could not tell a manager outside the filter.
package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stewardhq/steward"
)

// Source is an LDAP directory as a steward.PeopleSource. It holds no
// connection: each People call opens one and closes it when the stream ends.
type Source struct {
	cfg      Config
	log      *slog.Logger
	tls      *tls.Config // nil for plain ldap://
	baseDN   *goldap.DN
	departed map[string]bool // lower-cased DepartedValues
	attrs    []string        // attributes fetched for a person
}

var _ steward.PeopleSource = (*Source)(nil)

// New validates cfg and returns a Source. It checks that the password and
// the CA file can be read, so that a misconfiguration shows at start-up
// rather than at the first sync, but does not connect. Errors: EINVALID.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Source{cfg: cfg, log: cfg.Logger.With("connector", "ldap", "url", cfg.URL)}
	s.baseDN, _ = goldap.ParseDN(cfg.BaseDN) // Validate parsed it
	if cfg.BindDN != "" {
		if _, err := s.password(); err != nil {
			return nil, err
		}
	}
	u, _ := url.Parse(cfg.URL)
	if u.Scheme == "ldaps" || cfg.StartTLS {
		s.tls = &tls.Config{ServerName: cfg.ServerName, MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} // #nosec G402 -- off unless the operator sets insecure_skip_verify (for test directories; config.go), warned at every connection
		if s.tls.ServerName == "" {
			s.tls.ServerName = u.Hostname()
		}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile) // #nosec G304 -- ca_file of the operator's configuration
			if err != nil {
				return nil, invalid("cannot read ca_file: %v.", err)
			}
			s.tls.RootCAs = x509.NewCertPool()
			if !s.tls.RootCAs.AppendCertsFromPEM(pem) {
				return nil, invalid("ca_file %s holds no PEM certificate.", cfg.CAFile)
			}
		}
	}
	s.departed = make(map[string]bool, len(cfg.DepartedValues))
	for _, v := range cfg.DepartedValues {
		s.departed[strings.ToLower(strings.TrimSpace(v))] = true
	}
	a := cfg.Attributes
	s.attrs = []string{a.ExternalID, a.Name, a.Email, a.Title, a.Manager}
	if cfg.TeamFrom == TeamFromMemberOf {
		// Operational: the server returns it only when asked by name.
		s.attrs = append(s.attrs, "memberOf")
	}
	for _, at := range []string{cfg.StatusAttribute, cfg.DepartedAtAttribute, cfg.TeamAttribute} {
		if at != "" {
			s.attrs = append(s.attrs, at)
		}
	}
	return s, nil
}

// People streams every person under BaseDN that matches Filter, active and
// departed. An entry that cannot be a person (no external id, an id another
// entry holds, a field Steward rejects) is yielded as EINVALID whose message
// starts with the entry's DN, and the stream goes on. Fields that are merely
// unresolvable (a manager outside the people, an unreadable date) are left
// empty and logged as warnings.
//
// Errors that end the stream: EUNAVAILABLE when the server cannot be reached
// or fails mid-read, EUNAUTHORIZED when the bind is refused, EFORBIDDEN when
// the account may not search, EINVALID when a base DN does not exist or the
// password cannot be read, and the context's error when ctx ends.
func (s *Source) People(ctx context.Context) iter.Seq2[steward.SourcePerson, error] {
	return func(yield func(steward.SourcePerson, error) bool) {
		conn, err := s.connect(ctx)
		if err != nil {
			yield(steward.SourcePerson{}, err)
			return
		}
		defer conn.Close()
		// go-ldap's requests take no context: closing the connection is what
		// interrupts a search in flight when ctx ends.
		stop := context.AfterFunc(ctx, func() { conn.Close() }) // #nosec G104 -- closing interrupts the search, which then fails with ctx's error
		defer stop()

		var teams map[string]string
		if s.cfg.TeamFrom == TeamFromMemberOf {
			if teams, err = s.readTeams(ctx, conn); err != nil {
				yield(steward.SourcePerson{}, err)
				return
			}
		}
		ix, err := s.readIndex(ctx, conn)
		if err != nil {
			yield(steward.SourcePerson{}, err)
			return
		}
		for e, err := range s.search(ctx, conn, s.cfg.BaseDN, s.cfg.Filter, s.attrs) {
			if err != nil {
				yield(steward.SourcePerson{}, err)
				return
			}
			p, err := s.person(e, ix, teams)
			if err != nil {
				err = steward.AtPos(e.DN, err)
			}
			if !yield(p, err) {
				return
			}
		}
	}
}

// index maps people's DNs (normalised by dnKey) to their external ids, and
// each id to the DN of the first entry that holds it.
type index struct {
	idByDN map[string]string
	dnByID map[string]string
}

// readIndex is the first pass over the people: one attribute per entry.
// Entries without an id are left out here and reported by the second pass.
func (s *Source) readIndex(ctx context.Context, conn *goldap.Conn) (*index, error) {
	ix := &index{idByDN: map[string]string{}, dnByID: map[string]string{}}
	for e, err := range s.search(ctx, conn, s.cfg.BaseDN, s.cfg.Filter, []string{s.cfg.Attributes.ExternalID}) {
		if err != nil {
			return nil, err
		}
		id := firstValue(e, s.cfg.Attributes.ExternalID)
		key, err := dnKey(e.DN)
		if id == "" || err != nil {
			continue
		}
		ix.idByDN[key] = id
		if _, dup := ix.dnByID[id]; !dup {
			ix.dnByID[id] = key
		}
	}
	return ix, nil
}

// readTeams maps each team group's DN to its team name, the slug of its cn.
func (s *Source) readTeams(ctx context.Context, conn *goldap.Conn) (map[string]string, error) {
	teams := map[string]string{}
	for e, err := range s.search(ctx, conn, s.cfg.GroupBaseDN, s.cfg.GroupFilter, []string{"cn"}) {
		if err != nil {
			return nil, err
		}
		key, err := dnKey(e.DN)
		if err != nil {
			continue
		}
		cn := firstValue(e, "cn")
		if team := Slug(cn); team != "" {
			teams[key] = team
		} else {
			s.log.Warn("ldap: group has no cn that makes a team name; its members get no team from it", "dn", e.DN, "cn", cn)
		}
	}
	return teams, nil
}

// person turns one entry into a person, or into EINVALID when it cannot be
// one. The caller prefixes the DN.
func (s *Source) person(e *goldap.Entry, ix *index, teams map[string]string) (steward.SourcePerson, error) {
	a := s.cfg.Attributes
	p := steward.SourcePerson{
		ExternalID: firstValue(e, a.ExternalID),
		Name:       firstValue(e, a.Name),
		Email:      firstValue(e, a.Email),
		Title:      firstValue(e, a.Title),
		Status:     steward.PersonActive,
	}
	if p.ExternalID == "" {
		return steward.SourcePerson{}, steward.Errorf(steward.EINVALID, "entry has no %s, the person's external id; it is skipped.", a.ExternalID)
	}
	key, _ := dnKey(e.DN)
	if first, ok := ix.dnByID[p.ExternalID]; ok && first != key {
		return steward.SourcePerson{}, steward.Errorf(steward.EINVALID, "%s %q is also held by %s; this entry is skipped.", a.ExternalID, p.ExternalID, first)
	}
	if p.Name == "" {
		p.Name = p.ExternalID
	}
	if m := firstValue(e, a.Manager); m != "" {
		mkey, err := dnKey(m)
		switch id, ok := ix.idByDN[mkey]; {
		case err != nil:
			s.log.Warn("ldap: manager is not a DN; the person is read without a manager", "dn", e.DN, "manager", m)
		case !ok:
			s.log.Warn("ldap: manager is not among the people read; the person is read without a manager", "dn", e.DN, "manager", m)
		case id != p.ExternalID:
			p.Manager = id
		}
	}
	p.Team = s.teamFromAttribute(e)
	switch {
	case p.Team != "":
	case s.cfg.TeamFrom == TeamFromMemberOf:
		p.Team = s.teamFromGroups(e, teams)
	case s.cfg.TeamFrom == TeamFromOU:
		p.Team = s.teamFromOU(e.DN)
	}
	if s.isDeparted(e) {
		p.Status = steward.PersonDeparted
		if at := s.cfg.DepartedAtAttribute; at != "" {
			if v := firstValue(e, at); v != "" {
				t, err := ParseTime(v)
				if err != nil {
					s.log.Warn("ldap: departure date unreadable; the sync stamps its own", "dn", e.DN, "attribute", at, "value", v)
				} else {
					p.DepartedAt = &t
				}
			}
		}
	}
	if err := p.Normalize(); err != nil {
		return steward.SourcePerson{}, err
	}
	return p, nil
}

// teamFromAttribute returns the slug of the entry's TeamAttribute, or ""
// when it is not configured, the entry does not have it, or its values name
// more than one team (logged: the directory does not say which, and TeamFrom
// decides instead).
func (s *Source) teamFromAttribute(e *goldap.Entry) string {
	if s.cfg.TeamAttribute == "" {
		return ""
	}
	var found []string
	for _, v := range e.GetEqualFoldAttributeValues(s.cfg.TeamAttribute) {
		if team := Slug(v); team != "" {
			found = append(found, team)
		}
	}
	slices.Sort(found)
	found = slices.Compact(found)
	switch len(found) {
	case 0:
		return ""
	case 1:
		return found[0]
	}
	s.log.Warn("ldap: the team attribute names several teams; team_from decides", "dn", e.DN, "attribute", s.cfg.TeamAttribute, "teams", found)
	return ""
}

// teamFromGroups picks the person's team among the team groups they are a
// member of. A person in several is put in the first by name, so that two
// reads agree; the overlap is logged, since it usually means GroupFilter
// also matches groups that are not teams, or that the directory's record
// of a person's department (TeamAttribute) should decide.
func (s *Source) teamFromGroups(e *goldap.Entry, teams map[string]string) string {
	var found []string
	for _, g := range e.GetEqualFoldAttributeValues("memberOf") {
		if key, err := dnKey(g); err == nil && teams[key] != "" {
			found = append(found, teams[key])
		}
	}
	if len(found) == 0 {
		return ""
	}
	slices.Sort(found)
	found = slices.Compact(found)
	if len(found) > 1 {
		s.log.Warn("ldap: person is in several team groups; the first by name is their team (team_attribute lets the directory decide)", "dn", e.DN, "teams", found)
	}
	return found[0]
}

// teamFromOU returns the slug of the nearest ou in dn below BaseDN. The ous
// of BaseDN itself (ou=people) are containers, not teams.
func (s *Source) teamFromOU(dn string) string {
	d, err := goldap.ParseDN(dn)
	if err != nil || !s.baseDN.AncestorOfFold(d) {
		return ""
	}
	below := d.RDNs[:len(d.RDNs)-len(s.baseDN.RDNs)]
	for _, rdn := range below {
		for _, av := range rdn.Attributes {
			if strings.EqualFold(av.Type, "ou") {
				return Slug(av.Value)
			}
		}
	}
	return ""
}

func (s *Source) isDeparted(e *goldap.Entry) bool {
	if s.cfg.StatusAttribute == "" {
		return false
	}
	for _, v := range e.GetEqualFoldAttributeValues(s.cfg.StatusAttribute) {
		if s.departed[strings.ToLower(strings.TrimSpace(v))] {
			return true
		}
	}
	return false
}

// search runs a paged subtree search and yields its entries page by page:
// one page is in memory at a time. A stop by the consumer leaves the paged
// search open on the server until the connection closes, which People does.
func (s *Source) search(ctx context.Context, conn *goldap.Conn, base, filter string, attrs []string) iter.Seq2[*goldap.Entry, error] {
	return func(yield func(*goldap.Entry, error) bool) {
		paging := goldap.NewControlPaging(uint32(s.cfg.PageSize)) // #nosec G115 -- Config.Validate keeps page_size within 1..100,000
		req := goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
			filter, attrs, []goldap.Control{paging})
		for {
			if err := ctx.Err(); err != nil {
				yield(nil, fmt.Errorf("ldap: searching %s: %w", base, err))
				return
			}
			res, err := conn.Search(req)
			if err != nil {
				yield(nil, s.failure(ctx, "searching "+base, err))
				return
			}
			for _, e := range res.Entries {
				if !yield(e, nil) {
					return
				}
			}
			// A server without paging ignores the (non-critical) control and
			// sends everything in one answer, with no cookie.
			c, ok := goldap.FindControl(res.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging)
			if !ok || len(c.Cookie) == 0 {
				return
			}
			paging.SetCookie(c.Cookie)
		}
	}
}

// connect dials, upgrades to TLS if configured and binds.
func (s *Source) connect(ctx context.Context) (*goldap.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.cfg.InsecureSkipVerify {
		s.log.Warn("ldap: insecure_skip_verify is set: the server's certificate is not checked")
	}
	conn, err := goldap.DialURL(s.cfg.URL, goldap.DialWithDialer(&net.Dialer{Timeout: s.cfg.Timeout}), goldap.DialWithTLSConfig(s.tls))
	if err != nil {
		return nil, s.failure(ctx, "connecting", err)
	}
	conn.SetTimeout(s.cfg.Timeout)
	if s.cfg.StartTLS {
		if err := conn.StartTLS(s.tls); err != nil {
			conn.Close() // #nosec G104 -- the connection is unusable; the StartTLS error is the one to report
			return nil, s.failure(ctx, "starting TLS", err)
		}
	}
	if s.cfg.BindDN != "" {
		pw, err := s.password()
		if err == nil {
			err = conn.Bind(s.cfg.BindDN, pw)
		}
		if err != nil {
			conn.Close() // #nosec G104 -- the connection is unusable; the bind error is the one to report
			return nil, s.failure(ctx, "binding as "+s.cfg.BindDN, err)
		}
	}
	return conn, nil
}

// password reads BindDN's password from its environment variable or file.
// An empty password is refused: LDAP treats a bind with a DN and no
// password as anonymous (RFC 4513 5.1.2), which would hide a missing secret.
func (s *Source) password() (string, error) {
	var pw string
	if s.cfg.PasswordEnv != "" {
		pw = os.Getenv(s.cfg.PasswordEnv)
		if pw == "" {
			return "", invalid("the environment variable %s (password_env) is empty or unset.", s.cfg.PasswordEnv)
		}
		return pw, nil
	}
	b, err := os.ReadFile(s.cfg.PasswordFile) // #nosec G304 -- password_file of the operator's configuration
	if err != nil {
		return "", invalid("cannot read password_file: %v.", err)
	}
	pw = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if pw == "" {
		return "", invalid("password_file %s is empty.", s.cfg.PasswordFile)
	}
	return pw, nil
}

// failure turns an error of go-ldap into a Steward error whose code says
// what the operator should do, keeping the original in the chain for logs.
func (s *Source) failure(ctx context.Context, doing string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("ldap: %s: %w", doing, ctx.Err())
	}
	var code uint16 = goldap.ErrorNetwork
	var le *goldap.Error
	if errors.As(err, &le) {
		code = le.ResultCode
	}
	var e *steward.Error
	switch code {
	case goldap.LDAPResultInvalidCredentials:
		e = steward.Errorf(steward.EUNAUTHORIZED, "ldap: %s at %s: invalid credentials; check bind_dn and its password.", doing, s.cfg.URL)
	case goldap.LDAPResultInappropriateAuthentication, goldap.LDAPResultStrongAuthRequired, goldap.LDAPResultConfidentialityRequired:
		e = steward.Errorf(steward.EUNAUTHORIZED, "ldap: %s at %s: the server refused this kind of bind (%s); it may require TLS.", doing, s.cfg.URL, goldap.LDAPResultCodeMap[code])
	case goldap.LDAPResultInsufficientAccessRights:
		e = steward.Errorf(steward.EFORBIDDEN, "ldap: %s at %s: the account may not do this.", doing, s.cfg.URL)
	case goldap.LDAPResultNoSuchObject:
		e = steward.Errorf(steward.EINVALID, "ldap: %s at %s: no such entry; check base_dn and group_base_dn.", doing, s.cfg.URL)
	case goldap.LDAPResultSizeLimitExceeded, goldap.LDAPResultAdminLimitExceeded:
		e = steward.Errorf(steward.EUNAVAILABLE, "ldap: %s at %s: the server's limits stopped the search (%s); lower page_size, or ask its administrator to let this account page.", doing, s.cfg.URL, goldap.LDAPResultCodeMap[code])
	case goldap.ErrorNetwork:
		e = steward.Errorf(steward.EUNAVAILABLE, "ldap: %s at %s: the server cannot be reached (%v).", doing, s.cfg.URL, unwrapLDAP(err))
	default:
		e = steward.Errorf(steward.EUNAVAILABLE, "ldap: %s at %s: the server answered %q.", doing, s.cfg.URL, goldap.LDAPResultCodeMap[code])
	}
	return fmt.Errorf("%w: %w", e, err)
}

// unwrapLDAP returns the cause inside a go-ldap error, which reads better
// than its "LDAP Result Code 200 \"Network Error\"" prefix.
func unwrapLDAP(err error) error {
	var le *goldap.Error
	if errors.As(err, &le) && le.Err != nil {
		return le.Err
	}
	return err
}

// firstValue returns the first value of an attribute, matched without
// regard to case as LDAP attribute names are, or "".
func firstValue(e *goldap.Entry, attr string) string {
	if v := e.GetEqualFoldAttributeValues(attr); len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

// dnKey normalises a DN for use as a map key: the same entry written with
// other spacing, escaping or case (as manager values typed by hand often
// are) gives the same key. Attribute values are compared without regard to
// case, as the usual naming attributes (uid, cn, ou, dc) are.
func dnKey(dn string) (string, error) {
	d, err := goldap.ParseDN(dn)
	if err != nil {
		return "", err
	}
	return strings.ToLower(d.String()), nil
}

// Slug makes a team name out of a group cn or an OU: lower case, every run
// of other characters than letters, digits, '.', '_' and '-' becomes one
// '-', leading and trailing separators go, and the result is cut to 128
// bytes, so that it is a valid Steward slug. Letters with accents lose them
// where Latin-1 has a plain counterpart ("Équipe Paie" → "equipe-paie");
// other scripts give "" when nothing is left, and the person gets no team.
func Slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if f, ok := fold[r]; ok {
			r = f
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_':
			b.WriteRune(r)
			dash = false
		default:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	out := b.String()
	if len(out) > 128 {
		out = out[:128]
	}
	out = strings.TrimRight(out, "-._")
	return strings.TrimLeft(out, "-._")
}

// fold maps lower-case Latin-1 letters with accents to their plain letter.
var fold = func() map[rune]rune {
	m := map[rune]rune{'ß': 's', 'æ': 'a', 'œ': 'o', 'ø': 'o', 'đ': 'd', 'ł': 'l'}
	for plain, accented := range map[rune]string{
		'a': "àáâãäåā", 'c': "çćč", 'e': "èéêëēėę", 'i': "ìíîïī", 'n': "ñń",
		'o': "òóôõöō", 's': "śš", 'u': "ùúûüū", 'y': "ýÿ", 'z': "źżž",
	} {
		for _, r := range accented {
			m[r] = plain
		}
	}
	return m
}()

// ParseTime reads a date as directories hold them: LDAP generalized time
// (20250131170000Z, with optional minutes, seconds, fraction and offset),
// RFC 3339, a plain date (2025-01-31, taken as UTC midnight), or a whole
// number of days since 1970-01-01 (the shadowExpire convention). Errors:
// EINVALID.
func ParseTime(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 32); err == nil && len(v) < 8 && n >= 0 {
		return time.Unix(n*86400, 0).UTC(), nil
	}
	for _, layout := range []string{
		"20060102150405Z0700", "200601021504Z0700", "2006010215Z0700",
		time.RFC3339Nano, "2006-01-02",
	} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, steward.Errorf(steward.EINVALID, "%q is not a date (generalized time, RFC 3339, YYYY-MM-DD or days since 1970).", v)
}
