import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  attributeName,
  attributeValue,
  fieldSpans,
  fields,
  joinLines,
  lineType,
  replaceFields,
  splitLines,
} from '../../../../proxy/sdp/sdp-lines.ts';

describe('sdp-lines', () => {
  it('splits lines keeping each ending, and joins them back to the same bytes', () => {
    const body = 'v=0\r\ns=-\nt=0 0\r\n\r\na=x';
    const lines = splitLines(body);
    assert.deepEqual(lines, [
      { text: 'v=0', eol: '\r\n' },
      { text: 's=-', eol: '\n' },
      { text: 't=0 0', eol: '\r\n' },
      { text: '', eol: '\r\n' },
      { text: 'a=x', eol: '' },
    ]);
    assert.equal(joinLines(lines), body);
    assert.deepEqual(splitLines(''), []);
  });

  it('keeps a bare CR inside a line', () => {
    assert.deepEqual(splitLines('a=x\ry\n'), [{ text: 'a=x\ry', eol: '\n' }]);
  });

  it('reads line types and attribute names and values', () => {
    assert.equal(lineType('m=audio 1 RTP/AVP 0'), 'm');
    assert.equal(lineType('garbage'), null);
    assert.equal(lineType(''), null);
    assert.equal(attributeName('a=rtcp:5000 IN IP4 10.0.0.1'), 'rtcp');
    assert.equal(attributeValue('a=rtcp:5000 IN IP4 10.0.0.1'), '5000 IN IP4 10.0.0.1');
    assert.equal(attributeName('a=rtcp-mux'), 'rtcp-mux');
    assert.equal(attributeValue('a=rtcp-mux'), '');
  });

  it('finds fields separated by spaces or tabs and replaces them in place', () => {
    const text = 'c=IN  IP4\t10.0.0.1';
    assert.deepEqual(fields(text, 2), ['IN', 'IP4', '10.0.0.1']);
    const f = fieldSpans(text, 2);
    assert.equal(
      replaceFields(text, [
        { span: f[1]!, value: 'IP6' },
        { span: f[2]!, value: '2001:db8::1' },
      ]),
      'c=IN  IP6\t2001:db8::1',
    );
  });
});
