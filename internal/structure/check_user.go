package structure

import (
	"fmt"
	"strconv"
	"strings"
)

// userSpec is an expected user: a uid and, optionally, a gid (-1 = any).
type userSpec struct{ UID, GID int }

func parseUserSpec(s string) (userSpec, error) {
	u, g, hasG := strings.Cut(s, ":")
	uid, err := strconv.Atoi(u)
	if err != nil || uid < 0 {
		return userSpec{}, fmt.Errorf("uid %q is not a number", u)
	}
	spec := userSpec{UID: uid, GID: -1}
	if hasG {
		gid, err := strconv.Atoi(g)
		if err != nil || gid < 0 {
			return userSpec{}, fmt.Errorf("gid %q is not a number", g)
		}
		spec.GID = gid
	}
	return spec, nil
}

// passwdEntry is one line of /etc/passwd.
type passwdEntry struct {
	Name     string
	UID, GID int
	Home     string
}

// readDB returns the lines of a colon-separated database file of the
// image (/etc/passwd, /etc/group), following symlinks inside the image.
func (ix *index) readDB(p string) ([][]string, error) {
	e, rp, err := ix.resolve(p)
	if err != nil {
		return nil, err
	}
	if e.Type != typeFile {
		return nil, fmt.Errorf("%s is not a regular file", rp)
	}
	var rows [][]string
	for _, line := range strings.Split(string(e.Content), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rows = append(rows, strings.Split(line, ":"))
	}
	return rows, nil
}

func (ix *index) passwd() ([]passwdEntry, error) {
	rows, err := ix.readDB("/etc/passwd")
	if err != nil {
		return nil, err
	}
	var out []passwdEntry
	for _, f := range rows {
		if len(f) < 7 {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, passwdEntry{Name: f[0], UID: uid, GID: gid, Home: f[5]})
	}
	return out, nil
}

// imageUser resolves the config's User ("name", "uid", "uid:gid",
// "name:group") to numbers with the image's own /etc/passwd and
// /etc/group. An empty User is root.
func imageUser(ix *index, user string) (uid, gid int, err error) {
	if user == "" {
		return 0, 0, nil
	}
	u, g, hasG := strings.Cut(user, ":")
	pw, pwErr := ix.passwd()
	uid, gid = -1, -1
	if n, err := strconv.Atoi(u); err == nil {
		uid = n
	}
	for _, p := range pw {
		if (uid >= 0 && p.UID == uid) || (uid < 0 && p.Name == u) {
			uid, gid = p.UID, p.GID
			break
		}
	}
	if uid < 0 {
		if pwErr != nil {
			return 0, 0, fmt.Errorf("user %q: /etc/passwd: %v", u, pwErr)
		}
		return 0, 0, fmt.Errorf("user %q is not in /etc/passwd", u)
	}
	if hasG {
		if n, err := strconv.Atoi(g); err == nil {
			gid = n
		} else {
			gid = -1
			rows, _ := ix.readDB("/etc/group")
			for _, f := range rows {
				if len(f) >= 3 && f[0] == g {
					gid, _ = strconv.Atoi(f[2])
				}
			}
			if gid < 0 {
				return 0, 0, fmt.Errorf("group %q is not in /etc/group", g)
			}
		}
	}
	if gid < 0 {
		gid = 0 // a numeric user without a passwd entry runs with gid 0, as in every runtime
	}
	return uid, gid, nil
}

// checkNonrootUser: the config User is the expected nonroot user and
// /etc/passwd knows it, with a home directory that exists.
func checkNonrootUser(in *inputs) Check {
	const name = "runs as the expected nonroot user"
	user := in.cfg.Config.User
	if user == "" {
		return fail(IDNonrootUser, name, "config User is empty: the image runs as root")
	}
	uid, gid, err := imageUser(in.ix, user)
	if err != nil {
		return fail(IDNonrootUser, name, fmt.Sprintf("config User %q: %v", user, err), "/etc/passwd")
	}
	if uid == 0 {
		return fail(IDNonrootUser, name, fmt.Sprintf("config User %q is root", user))
	}
	if uid != in.want.UID || (in.want.GID >= 0 && gid != in.want.GID) {
		return fail(IDNonrootUser, name, fmt.Sprintf("config User %q is %d:%d, expected %s", user, uid, gid, fmtSpec(in.want)))
	}
	pw, err := in.ix.passwd()
	if err != nil {
		return fail(IDNonrootUser, name, fmt.Sprintf("/etc/passwd: %v", err), "/etc/passwd")
	}
	for _, p := range pw {
		if p.UID != uid {
			continue
		}
		e, rp, err := in.ix.resolve(p.Home)
		if p.Home == "" || err != nil || e.Type != typeDir {
			return fail(IDNonrootUser, name, fmt.Sprintf("home %q of %s (uid %d) is not a directory in the image", p.Home, p.Name, uid), rp)
		}
		return pass(IDNonrootUser, name, fmt.Sprintf("%s (%d:%d), home %s", p.Name, uid, gid, p.Home))
	}
	return fail(IDNonrootUser, name, fmt.Sprintf("uid %d is not in /etc/passwd", uid), "/etc/passwd")
}

func fmtSpec(s userSpec) string {
	if s.GID < 0 {
		return strconv.Itoa(s.UID)
	}
	return fmt.Sprintf("%d:%d", s.UID, s.GID)
}
