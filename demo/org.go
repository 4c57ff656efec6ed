package demo

import (
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/stewardhq/steward"
)

// teamSize is the average number of people per team. With 114 base team
// names, organisations up to about 2,000 people have plain team names
// ("payments"); larger ones split every team into squads ("payments-core").
const teamSize = 18

// dissolvedShare is one dissolved team per this many teams: a team whose
// members have all left but whose identities live on.
const dissolvedShare = 50

// departedPct is the share of people, in percent, who have left.
const departedPct = 3

// team is what the generator remembers of a team.
type team struct {
	id         int64
	name       string
	base       string // the base team name, without a squad
	dept       *department
	apps       []string
	costCenter string
	lead       int64 // person ID
	members    []int64
	dissolved  bool
	weight     int // relative size, used to spread members
	// inactiveSince is when its last active member left; zero while one
	// is active.
	inactiveSince time.Time
}

// person is what the generator remembers of a person.
type person struct {
	steward.Person
	dept  *department
	login string // the e-mail local part, unique
}

// teamPlan is one team name with its department and services.
type teamPlan struct {
	name string
	base string
	dept *department
	apps []string
}

// planTeams returns n team names. Base teams are taken from the departments
// round-robin; when n exceeds them, every base team splits into squads.
func planTeams(n int) []teamPlan {
	var base []teamPlan
	for i := 0; ; i++ {
		added := false
		for d := range departments {
			if i < len(departments[d].teams) {
				t := departments[d].teams[i]
				base = append(base, teamPlan{t.name, t.name, &departments[d], t.apps})
				added = true
			}
		}
		if !added {
			break
		}
	}
	if n <= len(base) {
		return base[:n]
	}
	plans := make([]teamPlan, 0, n)
	for j := 0; len(plans) < n; j++ {
		squad := squads[j%len(squads)]
		if j >= len(squads) {
			squad += strconv.Itoa(j/len(squads) + 1)
		}
		for _, b := range base {
			if len(plans) == n {
				break
			}
			plans = append(plans, teamPlan{b.name + "-" + squad, b.name, b.dept, b.apps})
		}
	}
	return plans
}

// displayName turns a slug into words: "ml-infra" → "ML Infra".
func displayName(slug string) string {
	words := strings.Split(slug, "-")
	for i, w := range words {
		switch w {
		case "sre", "ml", "ci", "cd", "api", "bi", "iam", "grc", "it", "b2b", "ugc", "pki", "ios", "dns", "crm", "ai":
			words[i] = strings.ToUpper(w)
		default:
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ")
}

// fold lower-cases a name and folds it to the ASCII letters an e-mail address
// uses: "Sebastián" → "sebastian", "O'Brien" → "obrien".
func fold(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r)
		case folds[r] != "":
			b.WriteString(folds[r])
		case unicode.IsLetter(r):
			// an unlisted letter is dropped rather than kept non-ASCII
		}
	}
	return b.String()
}

// planOrganisation decides teams and people: a leadership team with the chief
// executive and one director per department, then every team with its lead
// and members. About 3% of people have left, including every member of one
// team in sixty.
func (g *generator) planOrganisation() {
	plans := planTeams((g.cfg.People + teamSize - 1) / teamSize)

	// Directors: one for every department that has a team, in list order.
	directors := map[*department]int64{}
	var depts []*department
	for _, p := range plans {
		if _, ok := directors[p.dept]; !ok {
			directors[p.dept] = 0
			depts = append(depts, p.dept)
		}
	}

	leadership := &team{id: 1, name: "leadership", dept: nil, costCenter: "CC-1000", lead: 1}
	g.teams = append(g.teams, leadership)
	for i, p := range plans {
		g.teams = append(g.teams, &team{
			id: int64(i + 2), name: p.name, base: p.base, dept: p.dept, apps: p.apps,
			costCenter: "CC-" + strconv.Itoa(1100+i*7+g.rng.IntN(7)),
			weight:     1 + g.rng.IntN(4),
		})
	}

	seen := map[string]int{} // e-mail local parts handed out, to keep them unique
	newPerson := func(t *team, manager int64, dept *department, title string) *person {
		id := int64(len(g.people) + 1)
		first, last := pick(g, firstNames), pick(g, lastNames)
		login := fold(first) + "." + fold(last)
		if n := seen[login]; n > 0 {
			seen[login] = n + 1
			login += strconv.Itoa(n + 1)
		} else {
			seen[login] = 1
		}
		p := &person{dept: dept, login: login, Person: steward.Person{
			ID:         id,
			ExternalID: "E" + strconv.FormatInt(100000+id, 10),
			Name:       first + " " + last,
			Email:      login + "@example.com",
			Title:      title,
			TeamID:     ptr(t.id),
			Status:     steward.PersonActive,
			CreatedAt:  g.ago(g.between(20*day, 11*year)),
		}}
		if manager != 0 {
			p.ManagerID = ptr(manager)
		}
		t.members = append(t.members, id)
		g.people = append(g.people, p)
		return p
	}

	ceo := newPerson(leadership, 0, nil, "Chief Executive Officer")
	ceo.CreatedAt = g.ago(12 * year)
	for _, d := range depts {
		p := newPerson(leadership, ceo.ID, d, d.director)
		p.CreatedAt = g.ago(g.between(3*year, 10*year))
		directors[d] = p.ID
	}
	for _, t := range g.teams[1:] {
		t.lead = newPerson(t, directors[t.dept], t.dept, t.dept.lead).ID
	}
	// Members join teams in proportion to each team's weight.
	cum := make([]int, len(g.teams)-1)
	total := 0
	for i, t := range g.teams[1:] {
		total += t.weight
		cum[i] = total
	}
	for len(g.people) < g.cfg.People {
		i := sort.SearchInts(cum, g.rng.IntN(total)+1)
		t := g.teams[i+1]
		newPerson(t, t.lead, t.dept, pick(g, t.dept.titles))
	}

	g.planDepartures()

	// Non-human identities are spread over teams by size and by how much
	// infrastructure their department runs. The leadership team owns none.
	g.teamWeights = make([]int, len(g.teams))
	total = 0
	for i, t := range g.teams {
		if i > 0 {
			total += len(t.members) * t.dept.weight
		}
		g.teamWeights[i] = total
	}
}

// planDepartures marks people who have left: all members of the dissolved
// teams, then others at random until about 3% of people are gone.
func (g *generator) planDepartures() {
	depart := func(p *person, at time.Time) {
		p.Status = steward.PersonDeparted
		p.DepartedAt = ptr(at)
		if !p.CreatedAt.Before(at.Add(-90 * day)) {
			p.CreatedAt = at.Add(-g.between(90*day, 6*year))
		}
	}
	departed := 0
	eligible := 0
	for _, t := range g.teams[1:] {
		if t.dept.technical() {
			eligible++
		}
	}
	if teams := len(g.teams) - 1; teams >= 4 && eligible >= 2 {
		for n := min(eligible-1, max(1, teams/dissolvedShare)); n > 0; {
			t := g.teams[1+g.rng.IntN(teams)]
			if t.dissolved || !t.dept.technical() {
				continue
			}
			t.dissolved = true
			n--
			gone := g.ago(g.between(45*day, 300*day))
			for _, id := range t.members {
				depart(g.people[id-1], gone.Add(-g.between(0, 60*day)))
				departed++
			}
		}
	}
	// Leaders (the chief executive and the directors) stay.
	first := 1
	for first < len(g.people) && *g.people[first].TeamID == 1 {
		first++
	}
	for target := g.cfg.People * departedPct / 100; departed < target && first < len(g.people); {
		p := g.people[first+g.rng.IntN(len(g.people)-first)]
		if p.Status == steward.PersonDeparted {
			continue
		}
		depart(p, g.ago(g.between(2*day, 720*day)))
		departed++
	}
}

// emitOrganisation emits every team with the leadership and team leads in
// the first batch, since a team's manager is a person and a person's team is
// a team; then the rest of the people.
func (g *generator) emitOrganisation() error {
	for _, t := range g.teams {
		display := "Leadership"
		created := g.ago(12 * year)
		if t.dept != nil {
			display = displayName(t.name)
			created = g.ago(g.between(1*year, 10*year))
		}
		g.b.Teams = append(g.b.Teams, steward.Team{
			ID: t.id, Name: t.name, DisplayName: display, ManagerID: ptr(t.lead), CreatedAt: created,
		})
	}
	// The chief executive, the directors and the team leads come first; the
	// last team's lead is the last of them.
	leaders := g.teams[len(g.teams)-1].lead
	for _, p := range g.people {
		g.b.People = append(g.b.People, p.Person)
		if p.ID >= leaders {
			if err := g.flushIfFull(); err != nil {
				return err
			}
		}
	}
	return nil
}
