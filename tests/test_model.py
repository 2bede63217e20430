"""Layer-spec parsing, mirrored decoders, the classifier autoencoder, seeded initialisation and k-network stacks."""

import math

import pytest
import torch
from torch import nn

from cic.model import (
    Autoencoder,
    ClassifierAutoencoder,
    NetworkStack,
    StackedBatchNorm,
    StackedDropout,
    build_model,
    code_size,
    initialise_weights,
    parse_layer_spec,
)


def layer_summary(stack: nn.Sequential) -> list:
    """Linear layers as (in, out), BatchNorm as ("B", width), other modules by class name."""
    summary = []
    for module in stack:
        if isinstance(module, nn.Linear):
            summary.append((module.in_features, module.out_features))
        elif isinstance(module, nn.BatchNorm1d):
            summary.append(("B", module.num_features))
        elif isinstance(module, nn.Dropout):
            summary.append(("D", module.p))
        else:
            summary.append(type(module).__name__)
    return summary


# --- parsing -------------------------------------------------------------------------------------------------

def test_parse_selected_network():
    layers = parse_layer_spec("L2000,G,L30")
    assert [layer.token for layer in layers] == ["L2000", "G", "L30"]
    assert [layer.units for layer in layers] == [2000, None, 30]
    assert code_size("L2000,G,L30") == 30


def test_parse_allows_whitespace_around_tokens():
    assert parse_layer_spec(" L300 , S,L100 ,  L30 ") == parse_layer_spec("L300,S,L100,L30")
    assert code_size(" L300 , S,L100 ,  L30 ") == 30


def test_every_token_builds_its_layer():
    model = Autoencoder(64, "L50,G,S,Sig,R,T,SP,SS,W,B,D0.25,L10")
    assert layer_summary(model.encoder) == [
        (64, 50), "LogSigmoid", "Softmax", "Sigmoid", "ReLU", "Tanh", "Softplus", "Softshrink", "SiLU",
        ("B", 50), ("D", 0.25), (50, 10),
    ]
    softmax = model.encoder[2]
    softshrink = model.encoder[7]
    assert softmax.dim == -1  # the features of each sample, also in a [networks, batch, features] block
    assert softshrink.lambd == 0.5


@pytest.mark.parametrize("spec, bad_token", [
    ("L300,X,L30", "'X'"),
    ("l300,L30", "'l300'"),  # tokens are case-sensitive
    ("L300,g,L30", "'g'"),
    ("L300,SIG,L30", "'SIG'"),
    ("L0,L30", "'L0'"),
    ("L-5,L30", "'L-5'"),
    ("L3.5,L30", "'L3.5'"),
    ("L,L30", "'L'"),
    ("L300,D1.0,L30", "'D1.0'"),
    ("L300,D-0.1,L30", "'D-0.1'"),
    ("L300,D,L30", "'D'"),
    ("L300,Dx,L30", "'Dx'"),
    ("L300,,L30", "''"),
    ("L300,L30,", "''"),
    ("G,L300,L30", "'G'"),  # must start with a Linear layer
    ("L300,G", "'G'"),  # must end with a Linear layer (the code)
    ("L300,L30,D0.1", "'D0.1'"),
])
def test_invalid_spec_names_the_bad_token(spec, bad_token):
    with pytest.raises(ValueError, match="^layer spec ") as error:
        parse_layer_spec(spec)
    message = str(error.value)
    assert repr(spec) in message
    assert bad_token in message
    assert "\n" not in message


@pytest.mark.parametrize("spec", ["", "   "])
def test_empty_spec_is_refused(spec):
    with pytest.raises(ValueError, match="empty"):
        parse_layer_spec(spec)


def test_unknown_token_message_lists_the_allowed_tokens():
    with pytest.raises(ValueError, match=r"allowed tokens.*L<n>.*Sig.*SP.*SS.*D<p>"):
        parse_layer_spec("L300,Q,L30")


def test_model_constructor_refuses_a_bad_spec():
    with pytest.raises(ValueError, match="'Z'"):
        Autoencoder(100, "L30,Z,L10")


# --- mirrored decoder -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_genes, spec, encoder, decoder", [
    (1000, "L300,S,L100,L30",
     [(1000, 300), "Softmax", (300, 100), (100, 30)],
     [(30, 100), (100, 300), "Softmax", (300, 1000)]),
    (20184, "L2000,G,L30",
     [(20184, 2000), "LogSigmoid", (2000, 30)],
     [(30, 2000), "LogSigmoid", (2000, 20184)]),
    (100, "L30",
     [(100, 30)],
     [(30, 100)]),
    (100, "L60,B,R,D0.1,L20,T,L5",
     [(100, 60), ("B", 60), "ReLU", ("D", 0.1), (60, 20), "Tanh", (20, 5)],
     [(5, 20), "Tanh", (20, 60), ("D", 0.1), "ReLU", ("B", 60), (60, 100)]),
])
def test_decoder_mirrors_encoder(n_genes, spec, encoder, decoder):
    model = Autoencoder(n_genes, spec)
    assert layer_summary(model.encoder) == encoder
    assert layer_summary(model.decoder) == decoder
    assert isinstance(model.decoder[-1], nn.Linear)  # linear output: a regression on expression values


@pytest.mark.parametrize("spec", ["L300,S,L100,L30", "L50,G,L30", "L40,B,G,D0.2,L30", "L20,SS,L10,SP,L7"])
def test_shapes_through_the_autoencoder(spec):
    model = Autoencoder(120, spec).eval()
    x = torch.randn(6, 120)
    code = model.encode(x)
    assert code.shape == (6, code_size(spec))
    assert model.decode(code).shape == (6, 120)
    assert torch.equal(model(x), model.decode(code))


def test_softmax_normalises_each_sample_over_its_features():
    model = Autoencoder(50, "L20,S,L5")
    x = torch.randn(3, 50)
    activations = model.encoder[:2](x)
    torch.testing.assert_close(activations.sum(dim=1), torch.ones(3))


def test_spec_is_stored_without_whitespace_and_rebuilds_the_model():
    model = Autoencoder(80, " L40 , G , L10 ")
    assert model.spec == "L40,G,L10"
    assert model.metadata() == {"kind": "autoencoder", "n_genes": 80, "spec": "L40,G,L10"}
    rebuilt = build_model(model.metadata())
    assert type(rebuilt) is Autoencoder
    assert layer_summary(rebuilt.encoder) == layer_summary(model.encoder)
    assert layer_summary(rebuilt.decoder) == layer_summary(model.decoder)
    rebuilt.load_state_dict(model.state_dict())  # same parameter names and shapes


def test_build_model_refuses_unknown_kind():
    with pytest.raises(ValueError, match="unknown model kind 'vae'"):
        build_model({"kind": "vae", "n_genes": 10, "spec": "L5"})


# --- classifier autoencoder ------------------------------------------------------------------------------------

@pytest.mark.parametrize("hidden, head", [(None, [(30, 16)]), (25, [(30, 25), "ReLU", (25, 16)])])
def test_classifier_autoencoder_outputs(hidden, head):
    model = ClassifierAutoencoder(200, "L60,G,L30", n_classes=16, classifier_hidden=hidden).eval()
    assert layer_summary(model.classifier) == head
    x = torch.randn(9, 200)
    reconstruction, logits = model(x)
    assert reconstruction.shape == (9, 200)
    assert logits.shape == (9, 16)
    torch.testing.assert_close(reconstruction, model.decode(model.encode(x)))
    probabilities = model.predict_proba(x)
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(9))
    torch.testing.assert_close(probabilities, torch.softmax(logits, dim=1))


def test_classifier_autoencoder_shares_the_autoencoder_structure():
    plain = Autoencoder(200, "L60,G,L30")
    classifier = ClassifierAutoencoder(200, "L60,G,L30", n_classes=4)
    assert layer_summary(classifier.encoder) == layer_summary(plain.encoder)
    assert layer_summary(classifier.decoder) == layer_summary(plain.decoder)


def test_classifier_autoencoder_metadata_rebuilds_it():
    model = ClassifierAutoencoder(200, "L60,G,L30", n_classes=5, classifier_hidden=12)
    meta = model.metadata()
    assert meta == {"kind": "classifier_autoencoder", "n_genes": 200, "spec": "L60,G,L30", "n_classes": 5,
                    "classifier_hidden": 12}
    rebuilt = build_model(meta)
    assert isinstance(rebuilt, ClassifierAutoencoder)
    rebuilt.load_state_dict(model.state_dict())


@pytest.mark.parametrize("n_classes, hidden, match", [(1, None, "at least 2 classes"),
                                                      (3, 0, "classifier_hidden")])
def test_classifier_autoencoder_refuses_bad_sizes(n_classes, hidden, match):
    with pytest.raises(ValueError, match=match):
        ClassifierAutoencoder(50, "L10", n_classes=n_classes, classifier_hidden=hidden)


# --- initialisation ----------------------------------------------------------------------------------------------

def parameters_of(model: nn.Module) -> list[torch.Tensor]:
    return [parameter.detach().clone() for parameter in model.parameters()]


def test_initialisation_follows_the_seed_not_the_global_random_state():
    first, second, other = (Autoencoder(300, "L40,B,G,L10") for _ in range(3))
    initialise_weights(first, seed=7)
    torch.manual_seed(12345)  # must not matter
    initialise_weights(second, seed=7)
    initialise_weights(other, seed=8)
    assert all(torch.equal(a, b) for a, b in zip(parameters_of(first), parameters_of(second)))
    assert not torch.equal(first.encoder[0].weight, other.encoder[0].weight)


def test_initialisation_is_torch7_uniform_in_one_over_sqrt_fan_in():
    model = Autoencoder(400, "L100,G,L30")
    initialise_weights(model, seed=3)
    for linear in (model.encoder[0], model.encoder[2], model.decoder[0], model.decoder[2]):
        bound = 1 / math.sqrt(linear.in_features)
        for parameter in (linear.weight, linear.bias):
            assert parameter.abs().max() <= bound
            assert parameter.abs().max() > 0.9 * bound  # spread over the whole interval, not a narrower one
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d):
            assert torch.equal(module.weight, torch.ones_like(module.weight))


# --- k networks in one module ------------------------------------------------------------------------------------

def seeded(model, seed):
    initialise_weights(model, seed)
    with torch.no_grad():
        model.input_mean.uniform_(5, 9, generator=torch.Generator().manual_seed(seed))
        model.input_scale.uniform_(0.5, 2, generator=torch.Generator().manual_seed(seed + 1))
    return model.double()


@pytest.mark.parametrize("make", [
    lambda: Autoencoder(12, "L7,T,L5,S,L3"),
    lambda: Autoencoder(12, "L7,B,G,D0.3,L3"),
    lambda: ClassifierAutoencoder(12, "L6,SP,L3", n_classes=4, classifier_hidden=5),
])
def test_a_stack_runs_each_network_as_it_runs_alone(make):
    networks = [seeded(make(), seed) for seed in (1, 2, 3)]
    stack = NetworkStack(networks[0], 3).double()
    for index, network in enumerate(networks):
        stack.set_network(index, network)
    x = 7 + torch.randn(3, 10, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    stack.eval()
    codes, reproduced = stack.encode(x), stack(x)
    for index, network in enumerate(networks):
        network.eval()
        torch.testing.assert_close(codes[index], network.encode(x[index]), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(reproduced[index], network.decode(network.encode(x[index])), rtol=1e-12,
                                   atol=1e-12)
        if isinstance(network, ClassifierAutoencoder):
            torch.testing.assert_close(stack.classify(codes)[index], network(x[index])[1], rtol=1e-12, atol=1e-12)
        extracted = stack.network(index)
        assert extracted.metadata() == network.metadata()
        for name, tensor in network.state_dict().items():
            assert torch.equal(extracted.state_dict()[name], tensor), name


def test_stacked_batchnorm_in_training_mode_is_torchs_on_the_real_rows():
    """Each network normalises with its own real rows only (the others pad the block) and updates its running
    statistics as nn.BatchNorm1d does; a network without rows keeps them."""
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(3, 8, 5, dtype=torch.float64, generator=generator) * 3 + 2
    counts = torch.tensor([8, 5, 0])
    stack_norm = StackedBatchNorm(3, 5).double().train()
    output = stack_norm(x, counts)
    for index, count in enumerate(counts.tolist()[:2]):
        reference = nn.BatchNorm1d(5).double().train()
        torch.testing.assert_close(output[index, :count], reference(x[index, :count]), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(stack_norm.running_mean[index], reference.running_mean, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(stack_norm.running_var[index], reference.running_var, rtol=1e-12, atol=1e-12)
    assert torch.equal(stack_norm.running_mean[2], torch.zeros(5, dtype=torch.float64))
    assert stack_norm.num_batches_tracked.tolist() == [1, 1, 0]
    assert torch.isfinite(output).all()


def test_stacked_dropout_draws_each_networks_mask_from_its_own_generator():
    x = torch.ones(2, 6, 50)
    dropout = StackedDropout(0.5).train()
    first = dropout(x, [6, 4], [torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)])
    alone = dropout(x[1:], [4], [torch.Generator().manual_seed(2)])
    assert torch.equal(first[1], alone[0])  # network 1 drops the same units with or without network 0 beside it
    assert set(first.unique().tolist()) <= {0.0, 2.0}
    assert torch.equal(first[1, 4:], torch.zeros(2, 50))  # padding rows
    assert torch.equal(dropout.eval()(x, [6, 4]), x)


def test_set_network_refuses_another_architecture():
    stack = NetworkStack(Autoencoder(12, "L6,G,L3"), 2)
    with pytest.raises(ValueError, match="architecture"):
        stack.set_network(0, Autoencoder(12, "L5,G,L3"))
