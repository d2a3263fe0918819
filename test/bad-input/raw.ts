/** Every character that may not reach a terminal raw (tab and newline are the output's own). */
// eslint-disable-next-line no-control-regex
export const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
