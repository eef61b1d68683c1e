#!/bin/sh
# agent.sh: a tiny offline "model" for the exec provider (bm.yml(5)).
#
# Reads one case record (bm-records(5)) as JSON on stdin and prints an
# answer on stdout, computed from the text of the last user message:
#   - "What is A OP B?" with OP one of + - * /: the result;
#   - "... JSON object ..." with "Text: ...": {"name": ..., "born": ...},
#     the first run of two or more capitalised words and the first year;
#   - "... every drug ..." with "Note: ...": the words carrying a common
#     drug-name stem (-pril, -statin, -profen, ...), one per line;
#   - "... every person ..." with "Text: ...": runs of capitalised words,
#     one per line;
#   - a code review with "Linter: ...": the linter's finding;
#   - anything else: a short sentence.
# It is deliberately simple-minded, so that a suite run against it shows
# a realistic mix of passes and failures.  Needs POSIX sh, awk and jq.

set -u

case_json=$(cat) || exit 1
if [ -z "$case_json" ]; then
	echo "agent.sh: no case record on standard input" >&2
	exit 2
fi

# The last user message; for a sequence step, the last step's prompt.
prompt=$(printf '%s\n' "$case_json" | jq -r '
	([.messages[]? | select(.role == "user") | .content] | last)
	// ([.steps[]?.prompt] | last)
	// ""' 2>/dev/null) || {
	echo "agent.sh: the input is not a JSON case record" >&2
	exit 2
}

# The part of the prompt after "LABEL:", where the text to work on is.
after() {
	printf '%s\n' "$prompt" | awk -v label="$1" '
		found { print; next }
		{
			i = index($0, label ":")
			if (i) {
				found = 1
				print substr($0, i + length(label) + 1)
			}
		}'
}

# Runs of two or more capitalised words (a word may be a lowercase
# particle such as "von" between two capitalised ones); a leading title or
# function word is dropped.  One run per line, in order, without repeats.
names() {
	tr -s ' \t\n' '   ' | awk '
	function flush(   i, s, n, k) {
		# Drop a trailing particle.
		while (nw > 0 && words[nw] ~ /^[a-z]/)
			nw--
		if (nw >= 2) {
			s = words[1]
			for (i = 2; i <= nw; i++)
				s = s " " words[i]
			if (!(s in seen)) {
				seen[s] = 1
				print s
			}
		}
		nw = 0
	}
	BEGIN {
		split("A An The In On At Of For From With By To And But Or " \
		    "Dr Mr Mrs Ms Prof Sir Born", t, " ")
		for (k in t)
			skip[t[k]] = 1
	}
	{
		for (f = 1; f <= NF; f++) {
			w = $f
			end = (w ~ /[,;:.!?)]$/)
			gsub(/^[("'\'']+|[,;:.!?)"'\'']+$/, "", w)
			if (w ~ /^[A-Z][a-z]+$/ && !(nw == 0 && (w in skip)))
				words[++nw] = w
			else if (w ~ /^(von|van|de|der|da|di|del|la|le)$/ && nw > 0)
				words[++nw] = w
			else
				flush()
			if (end)
				flush()
		}
		flush()
	}'
}

# Words that end in a common drug-name stem (USAN stems), one per line.
drugs() {
	tr -cs 'A-Za-z' '\n' | awk '
	BEGIN {
		n = split("pril sartan statin olol profen cillin mycin " \
		    "cycline azole prazole oxacin formin gliptin glutide " \
		    "dipine triptan tidine oxetine zepam parin xaban " \
		    "mab nib vir caine semide afil", stem, " ")
	}
	length($0) >= 6 {
		w = tolower($0)
		for (i = 1; i <= n; i++) {
			s = stem[i]
			if (substr(w, length(w) - length(s) + 1) == s &&
			    !(w in seen)) {
				seen[w] = 1
				print $0
				break
			}
		}
	}'
}

# "What is A OP B": the result, whole numbers without a decimal point.
arithmetic() {
	printf '%s\n' "$prompt" | awk '
	{
		num = "-?[0-9]+(\\.[0-9]+)?"
		if (!match($0, "[Ww]hat is " num " *[-+*/x] *" num))
			next
		s = substr($0, RSTART + 8, RLENGTH - 8)
		match(s, "^" num)
		a = substr(s, 1, RLENGTH) + 0
		s = substr(s, RLENGTH + 1)
		sub(/^ */, "", s)
		op = substr(s, 1, 1)
		s = substr(s, 2)
		sub(/^ */, "", s)
		b = s + 0
		if (op == "+") r = a + b
		else if (op == "-") r = a - b
		else if (op == "*" || op == "x") r = a * b
		else if (b == 0) { print "undefined"; found = 1; exit }
		else r = a / b
		if (r == int(r))
			printf "%d\n", r
		else
			printf "%.10g\n", r
		found = 1
		exit
	}
	END { exit !found }'
}

case $prompt in
*JSON*)
	text=$(after Text)
	[ -n "$text" ] || text=$prompt
	name=$(printf '%s\n' "$text" | names | head -n 1)
	born=$(printf '%s\n' "$text" | tr -cs '0-9' '\n' |
	    awk 'length($0) == 4 && $0 >= 1000 && $0 <= 2100 { print; exit }')
	jq -cn --arg name "$name" --arg born "$born" \
	    '{name: (if $name == "" then null else $name end),
	      born: (if $born == "" then null else ($born | tonumber) end)}'
	;;
*[Dd]rug*)
	text=$(after Note)
	printf '%s\n' "${text:-$prompt}" | drugs
	;;
*[Pp]erson*|*[Pp]eople*)
	text=$(after Text)
	printf '%s\n' "${text:-$prompt}" | names
	;;
*Linter:*)
	# A review that leans on the tool output it was given.
	lint=$(after Linter | sed 's/^ *//; s/^warning: *//' | head -n 1)
	echo "The linter is right: $lint."
	;;
*[Hh]ello*|*[Gg]reet*)
	echo "Hello, and welcome aboard!"
	;;
*)
	arithmetic ||
	    echo "I am not sure; a careful answer would need more context."
	;;
esac
