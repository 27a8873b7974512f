/**
 * Golden parity of DAVIS label propagation: neighbourhood mask, final affinity, propagated soft
 * mask (dense, and the mask-only propagateMask), bilinear upsampling, norm_mask and labels,
 * against the official `eval_video_segmentation.py` functions. Grid, radius, top-k, temperature
 * and patch size come from the manifest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { argmaxLabels, labelPropagation, neighborhoodMask, normMask, propagateMask, upsampleBilinear } from '@selfpatch/eval';
import { expectClose, loadFixture, TEST_BACKENDS, useBackend } from '../harness/index.js';

interface LpConfig {
  h: number;
  w: number;
  size_mask_neighborhood: number;
  topk: number;
  patch: number;
  temperature: number;
}

for (const backend of TEST_BACKENDS) {
  test(`[${backend}] label_propagation: mask, affinity, propagated mask, upsampling, norm_mask, labels`, async (t) => {
    const fx = loadFixture(t, 'label_propagation');
    if (!fx) return;
    await useBackend(backend);
    const c = fx.config as unknown as LpConfig;
    expectClose(fx, 'output.mask_neighborhood', neighborhoodMask(c.h, c.w, c.size_mask_neighborhood));
    tf.tidy(() => {
      const target = fx.tensor('input.feat_tar') as tf.Tensor2D;
      const sources = tf.unstack(fx.tensor('input.feat_sources')) as tf.Tensor2D[];
      const segs = tf.unstack(fx.tensor('input.segs')) as tf.Tensor3D[];
      const opts = { h: c.h, w: c.w, radius: c.size_mask_neighborhood, topk: c.topk, temperature: c.temperature };
      const { seg, aff } = labelPropagation(target, sources, segs, opts);
      expectClose(fx, 'output.aff', aff);
      expectClose(fx, 'output.seg_tar', tf.expandDims(seg, 0));
      // The mask alone: on wasm the fused kernel that computes only the window's affinities.
      expectClose(fx, 'output.seg_tar', tf.expandDims(propagateMask(target, sources, segs, opts), 0));
      expectClose(fx, 'output.return_feat_tar', tf.transpose(target));
      const up = upsampleBilinear(seg, c.patch);
      expectClose(fx, 'output.upsampled', up);
      const nm = normMask(up);
      expectClose(fx, 'output.norm_mask', nm);
      const labels = argmaxLabels(nm);
      assert.deepEqual(Array.from(labels.dataSync()), Array.from(fx.get('output.labels').data as Int32Array));
    });
  });
}
