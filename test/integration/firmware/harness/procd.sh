# shellcheck shell=sh
# Test stand-in for OpenWrt's /lib/functions/procd.sh: every procd_* call is appended to $HARNESS_LOG
# (one line per call: the function name and its arguments separated by the ASCII unit separator),
# and uci_load_validate / uci_validate_section behave as the real ones (they run validate_data, which
# the harness provides on PATH, and eval its output).
# SC3043: 'local' as on busybox ash.
# shellcheck disable=SC3043

harness_record() {
	{
		printf '%s' "$1"
		shift
		for a in "$@"; do printf '\037%s' "$a"; done
		printf '\n'
	} >>"$HARNESS_LOG"
}

procd_open_service() { harness_record procd_open_service "$@"; }
procd_close_service() {
	harness_record procd_open_trigger
	service_triggers
	harness_record procd_close_trigger
	harness_record procd_close_service "$@"
}
procd_open_instance() { harness_record procd_open_instance "$@"; }
procd_set_param() { harness_record procd_set_param "$@"; }
procd_append_param() { harness_record procd_append_param "$@"; }
procd_close_instance() { harness_record procd_close_instance "$@"; }
procd_add_reload_trigger() { harness_record procd_add_reload_trigger "$@"; }
procd_add_reload_interface_trigger() { harness_record procd_add_reload_interface_trigger "$@"; }
procd_add_interface_trigger() { harness_record procd_add_interface_trigger "$@"; }
procd_add_config_trigger() { harness_record procd_add_config_trigger "$@"; }
procd_kill() { harness_record procd_kill "$@"; }
procd_send_signal() { harness_record procd_send_signal "$@"; }
procd_add_validation() {
	harness_record procd_add_validation "$@"
	"$@"
}

# What validate_data prints for an empty section name (the schema procd stores): record it.
json_add_object() { :; }
json_close_object() { :; }
json_add_string() { harness_record json_add_string "$@"; }

uci_validate_section() {
	local _package="$1" _type="$2" _name="$3" _result _error
	shift 3
	_result=$(validate_data "$_package" "$_type" "$_name" "$@" 2>/dev/null)
	_error=$?
	eval "$_result"
	[ "$_error" = 0 ] || validate_data "$_package" "$_type" "$_name" "$@" >/dev/null 2>>"$HARNESS_LOG.validate"
	return "$_error"
}

uci_load_validate() {
	local _package="$1" _type="$2" _name="$3" _function="$4" _option _result
	shift 4
	for _option in "$@"; do
		eval "local ${_option%%:*}"
	done
	uci_validate_section "$_package" "$_type" "$_name" "$@"
	_result=$?
	[ -n "$_function" ] || return "$_result"
	eval "$_function \"\$_name\" \"\$_result\""
}
