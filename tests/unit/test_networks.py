import keras
import numpy as np
import pytest

from ganmc.nets.gan import GAN, EncoderTrainer
from ganmc.nets.networks import (
    FEATURES,
    build_discriminator,
    build_encoder,
    build_generator,
    feature_model,
)


@pytest.mark.parametrize("arch,latent", [("dcgan", 64), ("dcgan-deep", 64), ("mlp", 100)])
def test_shapes(arch, latent):
    g, d, e = build_generator(arch, latent), build_discriminator(arch), build_encoder(arch, latent)
    z = np.random.default_rng(0).normal(size=(3, latent)).astype(np.float32)
    x = g(z)
    assert tuple(x.shape) == (3, 28, 28, 1)
    assert float(np.abs(x).max()) <= 1.0  # tanh range
    assert tuple(d(x).shape) == (3, 1)
    assert tuple(e(x).shape) == (3, latent)
    feats, logits = feature_model(d)(x)
    assert feats.shape[0] == 3 and logits.shape == (3, 1)
    assert d.get_layer(FEATURES) is not None


def test_dcgan_deep_is_dcgan_with_a_third_convolution_in_d():
    deep, plain = build_discriminator("dcgan-deep"), build_discriminator("dcgan")
    convs = [(c.filters, c.kernel_size, c.strides) for c in deep.layers
             if isinstance(c, keras.layers.Conv2D)]
    assert convs == [(32, (4, 4), (2, 2)), (64, (4, 4), (2, 2)), (128, (4, 4), (2, 2))]
    assert tuple(deep.get_layer(FEATURES).output.shape[1:]) == (4 * 4 * 128,)
    assert tuple(plain.get_layer(FEATURES).output.shape[1:]) == (7 * 7 * 64,)
    # G and E are dcgan's: the same layers and weights' shapes
    for build in (lambda a: build_generator(a, 64), lambda a: build_encoder(a, 64)):
        assert ([w.shape for w in build("dcgan-deep").weights]
                == [w.shape for w in build("dcgan").weights])


def test_mlp_is_the_seed_architecture():
    g = build_generator("mlp", 100)
    dense = [layer.units for layer in g.layers if isinstance(layer, keras.layers.Dense)]
    assert dense == [128, 256, 512, 784]
    d = build_discriminator("mlp")
    dense = [layer.units for layer in d.layers if isinstance(layer, keras.layers.Dense)]
    assert dense == [512, 256, 128, 1]


def _images(n=64):
    return np.random.default_rng(1).uniform(-1, 1, (n, 28, 28, 1)).astype(np.float32)


def test_gan_train_step_updates_both_networks():
    g, d = build_generator("mlp", 16), build_discriminator("mlp")
    gan = GAN(g, d, 16, seed=0)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    g_before = [w.numpy().copy() for w in g.trainable_weights]
    d_before = [w.numpy().copy() for w in d.trainable_weights]
    history = gan.fit(_images(), batch_size=32, epochs=1, verbose=0)
    assert set(history.history) >= {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(np.isfinite(v[0]) for v in history.history.values())
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(g_before, g.trainable_weights))
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(d_before, d.trainable_weights))


def test_encoder_trainer_freezes_g_and_d():
    g, d, e = build_generator("mlp", 16), build_discriminator("mlp"), build_encoder("mlp", 16)
    trainer = EncoderTrainer(e, g, d, kappa=1.0)
    trainer.compile(keras.optimizers.Adam(1e-3))
    g_before = [w.numpy().copy() for w in g.weights]
    d_before = [w.numpy().copy() for w in d.weights]
    e_before = [w.numpy().copy() for w in e.trainable_weights]
    history = trainer.fit(_images(), batch_size=32, epochs=1, verbose=0)
    assert set(history.history) == {"e_loss", "pixel_loss", "feature_loss"}
    assert all(np.allclose(a, b.numpy()) for a, b in zip(g_before, g.weights))
    assert all(np.allclose(a, b.numpy()) for a, b in zip(d_before, d.weights))
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(e_before, e.trainable_weights))


def test_bfloat16_copies_need_no_autocasting():
    """Every layer of the bfloat16 copies stores its weights in the type it computes in:
    convolutions and the LeakyReLU after each in bfloat16 (oneDNN fuses the three), dense
    layers' and transposed convolutions' products in bfloat16 from float32 weights, with
    G's batch normalisations and LeakyReLUs folded into them (kept as pass-through layers
    of the same names), the reshape of a folded product's bfloat16 output in bfloat16,
    everything else in float32; so no Keras autocast scope is needed, in any thread, and
    the copies compute what the originals do, to bfloat16's precision."""
    import threading

    from ganmc.nets.networks import BFloat16Conv2DTranspose, BFloat16Dense, Networks

    nets = Networks(build_generator("dcgan", 16), build_discriminator("dcgan"),
                    build_encoder("dcgan", 16))
    rng = np.random.default_rng(2)
    for layer in nets.generator.layers:  # statistics that folding must carry over
        if isinstance(layer, keras.layers.BatchNormalization):
            for w, low_ in zip(layer.weights, (0.5, -0.3, -0.2, 0.3)):  # gamma beta mean var
                w.assign(low_ + rng.random(w.shape).astype(np.float32))
    fast = nets.cast("bfloat16")
    low = {"d_conv0", "d_act0", "d_conv1", "d_act1", "e_conv0", "e_act0", "e_conv1", "e_act1",
           "g_reshape"}
    fused = {"g_dense", "g_up1", "g_out"}
    folded = {"g_bn0", "g_act0", "g_bn1", "g_act1"}
    for model in (fast.generator, fast.discriminator, fast.encoder):
        for layer in model.layers[1:]:
            policy = layer.dtype_policy
            assert policy.compute_dtype == policy.variable_dtype, layer.name
            assert policy.compute_dtype == ("bfloat16" if layer.name in low else "float32"), \
                layer.name
            assert isinstance(layer, BFloat16Dense) == isinstance(layer, keras.layers.Dense)
            assert not isinstance(layer, keras.layers.BatchNormalization)
            assert (layer.name in folded) == (not layer.weights and type(layer).__name__
                                               == "_Folded")
    assert {layer.name for layer in fast.generator.layers
            if isinstance(layer, BFloat16Conv2DTranspose | BFloat16Dense)} == fused
    slopes = {name: fast.generator.get_layer(name).negative_slope for name in fused}
    assert slopes == {"g_dense": 0.2, "g_up1": 0.2, "g_out": None}
    z = np.random.default_rng(0).normal(size=(8, 16)).astype(np.float32)
    out = {}
    thread = threading.Thread(target=lambda: out.update(x=fast.generator(z, training=False)))
    thread.start()
    thread.join()
    reference = np.asarray(nets.generator(z, training=False))
    assert out["x"].dtype == "float32"
    assert np.abs(reference).max() > 0.1  # the normalisations did not flatten it
    np.testing.assert_allclose(np.asarray(out["x"]), reference, atol=0.05)
    with pytest.raises(ValueError, match="cast the original networks"):
        fast.cast("float32")
    mixed = Networks(build_generator("dcgan", 16, "mixed_bfloat16"),
                     build_discriminator("dcgan", "mixed_bfloat16"))
    back = mixed.cast("float32")
    assert {layer.dtype_policy.name for layer in back.generator.layers} == {"float32"}
    assert all(w.dtype == "float32" for w in back.generator.weights)


def test_bfloat16_dense_multiplies_in_bfloat16_and_folds_its_leaky_relu():
    """The mlp's bfloat16 copy: each dense layer's product is a bfloat16 MatMul; a
    LeakyReLU that followed it is folded into the layer (kept as an identity of the same
    name, so D's ``features`` are still found), whose output is then bfloat16; the
    networks' outputs are float32 and within bfloat16's precision of the float32 networks'."""
    import tensorflow as tf

    from ganmc.nets.networks import BFloat16Dense, Networks

    nets = Networks(build_generator("mlp", 100), build_discriminator("mlp"))
    fast = nets.cast("bfloat16")
    dense = {layer.name: layer.negative_slope for model in (fast.generator, fast.discriminator)
             for layer in model.layers if isinstance(layer, BFloat16Dense)}
    assert dense == {"g_dense0": 0.2, "g_dense1": 0.2, "g_dense2": 0.2, "g_out": None,
                     "d_dense0": 0.2, "d_dense1": 0.2, "d_dense2": 0.2, "logit": None}
    assert isinstance(fast.discriminator.get_layer("features"), keras.layers.Identity)
    z = tf.constant(np.random.default_rng(1).normal(size=(64, 100)), tf.float32)
    graph = tf.function(lambda z: fast.discriminator(fast.generator(z))).get_concrete_function(
        tf.TensorSpec([None, 100], tf.float32)).graph
    assert {op.outputs[0].dtype.name for op in graph.get_operations()
            if op.type == "MatMul"} == {"bfloat16"}
    image = fast.generator(z)
    features, logit = fast.features(image)
    assert (image.dtype, features.dtype, logit.dtype) == ("float32", "bfloat16", "float32")
    np.testing.assert_allclose(image.numpy(), nets.generator(z).numpy(), atol=0.05)
    want_features, want_logit = nets.features(nets.generator(z))
    np.testing.assert_allclose(tf.cast(features, tf.float32).numpy(), want_features.numpy(),
                               atol=0.05)
    np.testing.assert_allclose(logit.numpy(), want_logit.numpy(), atol=0.05)
    with pytest.raises(ValueError, match="cast the original networks"):
        fast.cast("float32")
