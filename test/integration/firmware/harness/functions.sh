# shellcheck shell=sh
# Test stand-in for OpenWrt's /lib/functions.sh: the UCI helpers the package's scripts use.
# config_load sources the UCI file itself (UCI's file syntax is a list of shell commands: config,
# option, list), as the real one evaluates `uci export`. Values land in CONFIG_<section>_<option>;
# list items are joined with a space, as the real config_get returns them.
# SC3043: 'local' as on busybox ash.
# shellcheck disable=SC3043

config() {
	CONFIG_SECTION="$2"
	CONFIG_SECTIONS="$CONFIG_SECTIONS $2"
	eval "CONFIG_${2}_TYPE=\$1"
}

option() {
	eval "CONFIG_${CONFIG_SECTION}_$1=\$2"
	HARNESS_CONFIG_VARS="$HARNESS_CONFIG_VARS CONFIG_${CONFIG_SECTION}_$1"
}

list() {
	eval "CONFIG_${CONFIG_SECTION}_$1=\"\${CONFIG_${CONFIG_SECTION}_$1:+\$CONFIG_${CONFIG_SECTION}_$1 }\$2\""
	HARNESS_CONFIG_VARS="$HARNESS_CONFIG_VARS CONFIG_${CONFIG_SECTION}_$1"
}

# Like the real one, a new config_load starts from a clean state (lists are not appended to twice).
config_load() {
	local file="$UCI_CONFIG_DIR/$1" var
	for var in $HARNESS_CONFIG_VARS; do unset "$var"; done
	HARNESS_CONFIG_VARS=
	CONFIG_SECTIONS=
	[ -f "$file" ] || return 1
	# shellcheck source=/dev/null
	. "$file"
}

# config_get <variable> <section> <option> [<default>] | config_get <section> <option>
config_get() {
	case "$3" in
	'') eval "echo \"\${CONFIG_${1}_${2}:-}\"" ;;
	*) eval "$1=\${CONFIG_${2}_${3}:-\$4}" ;;
	esac
}

config_set() {
	eval "CONFIG_${1}_${2}=\$3"
}
