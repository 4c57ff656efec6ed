package importer

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// awsHeader is the header of the IAM credential report, column for column,
// as `aws iam get-credential-report --query Content --output text | base64 -d`
// prints it.
var awsHeader = []string{
	"user", "arn", "user_creation_time", "password_enabled", "password_last_used",
	"password_last_changed", "password_next_rotation", "mfa_active",
	"access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
	"access_key_1_last_used_region", "access_key_1_last_used_service",
	"access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
	"access_key_2_last_used_region", "access_key_2_last_used_service",
	"cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated",
}

// Columns of the credential report, by index in awsHeader.
const (
	awsUser = iota
	awsARN
	awsCreated
	awsPasswordEnabled
	awsPasswordLastUsed
	awsPasswordLastChanged
	awsPasswordNextRotation
	awsMFA
	awsKey1  // access_key_1_active; the key's other columns follow, awsKeyWidth in all
	awsCert1 = awsKey1 + 2*awsKeyWidth
)

// Offsets within an access key's columns, and their number.
const (
	awsKeyActive = iota
	awsKeyRotated
	awsKeyUsed
	awsKeyRegion
	awsKeyService
	awsKeyWidth
)

// awsRoot is the user column of the account's root user.
const awsRoot = "<root_account>"

// AWSCredentialReport reads the IAM credential report of an AWS account:
// the decoded CSV of `aws iam get-credential-report`. Each user (and the
// root user) is a service_account identity; each active access key is an
// api_key identity of its own, since a key is what leaks and what gets
// rotated; an Inactive key is kept, disabled. Active signing certificates
// and console passwords are credentials of the user. See
// docs/import-formats.md.
type AWSCredentialReport struct{ in input }

// Read streams the report's identities: each user, then its active keys.
func (s *AWSCredentialReport) Read(ctx context.Context) iter.Seq2[steward.Record, error] {
	return s.in.stream(ctx, s.read)
}

func (s *AWSCredentialReport) read(r io.Reader, emit func(steward.Record, error) bool) error {
	rows := newCSVRows(&s.in, r, -1) // checkAWSHeader names a missing column
	header, _, bad, err := rows.next()
	if err == io.EOF {
		return s.in.bad(1, "the file is empty; want a credential report starting with the header %q.", strings.Join(awsHeader, ","))
	} else if err != nil {
		return err
	} else if bad != nil {
		return bad
	}
	if err := checkAWSHeader(header); err != nil {
		return steward.AtPos(s.in.pos(1), err)
	}
	rows.cr.FieldsPerRecord = len(awsHeader)
	seen := map[string]int{} // ARN → line, to report a user listed twice
	for {
		rec, line, bad, err := rows.next()
		if err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if bad != nil {
			if !emit(steward.Record{}, bad) {
				return nil
			}
			continue
		}
		records, err := s.row(rec)
		if err == nil {
			if first, dup := seen[rec[awsARN]]; dup {
				err = steward.Errorf(steward.EINVALID, "user %s is listed twice (first at line %d).", rec[awsARN], first)
			} else {
				seen[rec[awsARN]] = line
			}
		}
		if err != nil {
			if !emit(steward.Record{}, steward.AtPos(s.in.pos(line), err)) {
				return nil
			}
			continue
		}
		for _, r := range records {
			r.Pos = s.in.pos(line)
			if !emit(r, nil) {
				return nil
			}
		}
	}
}

// checkAWSHeader names the first way header differs from the report's.
func checkAWSHeader(header []string) error {
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\uFEFF") // a byte order mark added by a spreadsheet
	}
	if len(header) > 0 && strings.HasPrefix(header[0], "dXNlcixhcm4s") { // "user,arn," in base64
		return steward.Errorf(steward.EINVALID, "the report is still base64-encoded, as the API returns it; decode it first: aws iam get-credential-report --query Content --output text | base64 -d.")
	}
	for _, want := range awsHeader {
		if !slices.Contains(header, want) {
			return steward.Errorf(steward.EINVALID, "not a credential report: the header has no column %q.", want)
		}
	}
	for _, got := range header {
		if !slices.Contains(awsHeader, got) {
			return steward.Errorf(steward.EINVALID, "not a credential report: the header has an unexpected column %q.", got)
		}
	}
	for i, got := range header {
		if i >= len(awsHeader) || got != awsHeader[i] {
			return steward.Errorf(steward.EINVALID, "not a credential report: column %d of the header is %q; the report has %q there.", i+1, got, awsHeader[min(i, len(awsHeader)-1)])
		}
	}
	if len(header) != len(awsHeader) {
		return steward.Errorf(steward.EINVALID, "not a credential report: the header has %d columns; the report has %d.", len(header), len(awsHeader))
	}
	return nil
}

// awsFields reads the typed values of one report row, keeping the first
// problem so that a row's parsing reads as a list of fields.
type awsFields struct {
	rec []string
	now time.Time
	err error
}

func (f *awsFields) fail(col int, format string, args ...any) {
	if f.err == nil {
		f.err = steward.Errorf(steward.EINVALID, "%s: %s.", awsHeader[col], fmt.Sprintf(format, args...))
	}
}

// time reads a time column. N/A (no such credential, or never used),
// no_information (not used since IAM began tracking in 2014) and
// not_supported (the root user's password columns) mean no time.
func (f *awsFields) time(col int) *time.Time {
	v := f.rec[col]
	switch v {
	case "N/A", "no_information", "not_supported", "":
		return nil
	}
	t, err := parseTime(v)
	if err != nil {
		f.fail(col, "%s", steward.ErrorMessage(err))
		return nil
	}
	return &t
}

// past reads a time of creation or use, which cannot be in the future.
func (f *awsFields) past(col int) *time.Time {
	t := f.time(col)
	if err := notFuture("time", t, f.now); err != nil {
		f.fail(col, "%s", strings.TrimSuffix(steward.ErrorMessage(err), "."))
	}
	return t
}

// bool reads true or false; not_supported (the root user's password) is false.
func (f *awsFields) bool(col int) bool {
	switch v := f.rec[col]; {
	case strings.EqualFold(v, "true"):
		return true
	case strings.EqualFold(v, "false"), v == "not_supported":
		return false
	default:
		f.fail(col, "%q is not true or false", v)
		return false
	}
}

// text reads a free-text column; N/A means empty.
func (f *awsFields) text(col int) string {
	if v := f.rec[col]; v != "N/A" && v != "no_information" {
		return v
	}
	return ""
}

// row maps one report row to the user's identity and one identity per
// access key, active or not.
func (s *AWSCredentialReport) row(rec []string) ([]steward.Record, error) {
	u, err := readAWSRow(rec, s.in.opt.Now)
	if err != nil {
		return nil, err
	}
	out := []steward.Record{{Identity: u.userIdentity()}}
	for n := range u.keys {
		if k := u.keyIdentity(n); k != nil {
			out = append(out, steward.Record{Identity: k})
		}
	}
	for _, r := range out {
		if err := valid(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// awsRow is one report row, read and checked: a user and the credentials
// it holds.
type awsRow struct {
	user, arn, account string
	root               bool
	created            *time.Time
	passwordEnabled    bool
	passwordUsed       *time.Time
	passwordChanged    *time.Time
	passwordNext       *time.Time
	mfa                bool
	keys               [2]awsKey
	certs              [2]awsCert
}

// awsKey is one of a user's two access key slots.
type awsKey struct {
	active          bool
	rotated, used   *time.Time
	region, service string
}

// awsCert is one of a user's two signing certificate slots.
type awsCert struct {
	active  bool
	rotated *time.Time
}

// readAWSRow reads a report row's columns: the first problem is the row's
// error.
func readAWSRow(rec []string, now time.Time) (*awsRow, error) {
	f := awsFields{rec: rec, now: now}
	u := &awsRow{user: rec[awsUser], arn: rec[awsARN]}
	if strings.TrimSpace(u.user) == "" {
		return nil, steward.Errorf(steward.EINVALID, "user is empty.")
	}
	// arn:PARTITION:iam::ACCOUNT:user/PATH/NAME, or …:root for the root user.
	parts := strings.SplitN(u.arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || parts[4] == "" {
		return nil, steward.Errorf(steward.EINVALID, "arn: %q is not an IAM ARN such as arn:aws:iam::123456789012:user/name.", u.arn)
	}
	u.account, u.root = parts[4], u.user == awsRoot
	u.created = f.past(awsCreated)
	u.passwordEnabled = f.bool(awsPasswordEnabled)
	u.passwordUsed = f.past(awsPasswordLastUsed)
	u.passwordChanged = f.past(awsPasswordLastChanged)
	u.passwordNext = f.time(awsPasswordNextRotation)
	u.mfa = f.bool(awsMFA)
	for n := range u.keys {
		c := awsKey1 + n*awsKeyWidth
		u.keys[n] = awsKey{active: f.bool(c + awsKeyActive), rotated: f.past(c + awsKeyRotated), used: f.past(c + awsKeyUsed),
			region: f.text(c + awsKeyRegion), service: f.text(c + awsKeyService)}
	}
	for n := range u.certs {
		c := awsCert1 + 2*n
		u.certs[n] = awsCert{active: f.bool(c), rotated: f.past(c + 1)}
	}
	if f.err != nil {
		return nil, f.err
	}
	return u, nil
}

// criticality is the criticality of the user's identities. The root user
// can do anything in the account and cannot be restricted by policy: a
// root access key is the worst credential an account can hold. Others
// get the sync's default.
func (u *awsRow) criticality() steward.Level {
	if u.root {
		return steward.LevelCritical
	}
	return ""
}

// userIdentity is the user, with its password and active signing
// certificates as credentials.
func (u *awsRow) userIdentity() *steward.SourceIdentity {
	i := &steward.SourceIdentity{
		ExternalID:  u.arn,
		Name:        u.user,
		Kind:        steward.KindServiceAccount,
		Criticality: u.criticality(),
		Labels:      map[string]string{"user": u.user, "arn": u.arn, "account": u.account, "mfa_active": fmt.Sprint(u.mfa)},
		CreatedAt:   u.created,
		LastUsedAt:  latest(u.passwordUsed, u.keys[0].used, u.keys[1].used),
	}
	if u.root {
		i.Labels["root"] = "true"
	} else {
		i.Labels["console"] = fmt.Sprint(u.passwordEnabled)
	}
	if u.passwordEnabled {
		i.Credentials = append(i.Credentials, steward.SourceCredential{ExternalID: "password", Kind: steward.CredPassword,
			CreatedAt: u.passwordChanged, LastUsedAt: u.passwordUsed, ExpiresAt: u.passwordNext})
	}
	for n, c := range u.certs {
		if c.active {
			i.Credentials = append(i.Credentials, steward.SourceCredential{ExternalID: fmt.Sprintf("cert_%d", n+1),
				Kind: steward.CredCertificate, CreatedAt: c.rotated})
		}
	}
	return i
}

// keyIdentity is the access key in slot n as an identity of its own, with
// the key as its credential; nil when the slot holds no key.
func (u *awsRow) keyIdentity(n int) *steward.SourceIdentity {
	k := u.keys[n]
	if !k.active && k.rotated == nil && k.used == nil {
		return nil // no key in this slot
	}
	slot := fmt.Sprintf("access_key_%d", n+1)
	labels := map[string]string{"parent": u.arn, "user": u.user, "account": u.account, "slot": slot}
	if k.region != "" {
		labels["last_used_region"] = k.region
	}
	if k.service != "" {
		labels["last_used_service"] = k.service
	}
	// AWS documents last_rotated as when the key "was created or last
	// changed", and real reports hold keys last used before it (the
	// CIS benchmark's "not used since rotation" check looks for them).
	// Such a key is older than the report says and its creation is not
	// known: the identity gets no creation time, and the credential
	// keeps the report's time as its creation, as for any other key.
	keyCreated := k.rotated
	if k.used != nil && k.rotated != nil && k.used.Before(k.rotated.Add(-time.Minute)) {
		keyCreated = nil
		labels["changed_after_last_use"] = "true"
	}
	// An Inactive key cannot sign requests, but it exists and can be
	// made Active again: it is kept, disabled, so that it is neither
	// lost nor mistaken for a live key.
	var status steward.IdentityStatus // the sync's default: active
	var credStatus steward.CredentialStatus
	if !k.active {
		status, credStatus = steward.IdentityDisabled, steward.CredentialDisabled
	}
	return &steward.SourceIdentity{
		ExternalID:  u.arn + "#" + slot,
		Name:        fmt.Sprintf("%s access key %d", u.user, n+1),
		Kind:        steward.KindAPIKey,
		Criticality: u.criticality(),
		Status:      status,
		Labels:      labels,
		CreatedAt:   keyCreated,
		LastUsedAt:  k.used,
		Credentials: []steward.SourceCredential{{ExternalID: slot, Kind: steward.CredAccessKey, Status: credStatus, CreatedAt: k.rotated, LastUsedAt: k.used}},
	}
}

// csvError turns a csv.ParseError into EINVALID at the row where it began.
func csvError(in *input, err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return in.ioError(err)
	}
	line := pe.StartLine
	if line == 0 {
		line = pe.Line
	}
	msg := pe.Err.Error()
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		msg = "the row has a different number of fields than the header"
	}
	if pe.Line != pe.StartLine && pe.Line != 0 {
		msg = fmt.Sprintf("%s (at line %d, column %d)", msg, pe.Line, pe.Column)
	} else if pe.Column > 0 && !errors.Is(pe.Err, csv.ErrFieldCount) {
		msg = fmt.Sprintf("%s (column %d)", msg, pe.Column)
	}
	return in.bad(line, "%s.", msg)
}
