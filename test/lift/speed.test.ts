/** The learn-time estimate's speed: the steady step, not the warm-up. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { steadySecondsPerPosition } from '../../native/lift/pipeline';

test('the speed is the median step after the first: slow first runs do not inflate the estimate', () => {
  // semver's probe: three equal steps of 511 positions after the first took 428, 137 and 116 ms
  const times = [0, 428, 565, 681];
  const positions = [511, 511, 511, 511];
  assert.equal(steadySecondsPerPosition(times, positions), 0.137 / 511);
  // an even count takes the mean of the middle two; steps are weighed by their own positions
  assert.equal(steadySecondsPerPosition([0, 100, 300, 400, 700], [10, 100, 100, 100, 300]), 0.001);
  assert.equal(steadySecondsPerPosition([0], [511]), 0, 'one step measures nothing');
  assert.equal(steadySecondsPerPosition([], []), 0);
});
