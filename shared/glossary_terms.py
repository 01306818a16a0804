"""The lab's glossary as data: every term a page may use that a student who knows neural networks
and transformers may not, in our own words, with the paper it comes from where it has one.
`shared/glossary.py` finds these terms on a page, underlines their first use with the definition
on hover, and lists them in the page's "Words used on this page" panel. Each term is listed once;
`aliases` are the other ways the pages write it (plurals are matched without listing them).
A term nobody shows is removed (tests/test_glossary.py checks every term appears on some page).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.scaling_laws import BESIROGLU_URL, HOFFMANN_URL, KAPLAN_URL


@dataclass(frozen=True)
class Entry:
    term: str  # the canonical name, as the panel shows it
    aliases: tuple[str, ...]  # other ways the pages write it (a plural s/es needs no alias)
    source: tuple[str, str] | None  # (citation, URL) where the term comes from a paper
    definition: str  # one or two plain sentences (plain text: it becomes a hover title)


# Kept as written (not reformatted): an entry reads name, aliases, source, then its definition.
# fmt: off
KAPLAN = ("Kaplan et al. 2020, Scaling Laws for Neural Language Models", KAPLAN_URL)
HOFFMANN = ("Hoffmann et al. 2022, Training Compute-Optimal Large Language Models", HOFFMANN_URL)
BESIROGLU = ("Besiroglu et al. 2024, Chinchilla Scaling: A replication attempt", BESIROGLU_URL)
PALM = ("Chowdhery et al. 2022, PaLM (Appendix B)", "https://arxiv.org/abs/2204.02311")
ZERO = ("Rajbhandari et al. 2020, ZeRO", "https://arxiv.org/abs/1910.02054")
MEGATRON = ("Shoeybi et al. 2019, Megatron-LM", "https://arxiv.org/abs/1909.08053")
NARAYANAN = ("Narayanan et al. 2021, Efficient Large-Scale LM Training", "https://arxiv.org/abs/2104.04473")
GPIPE = ("Huang et al. 2019, GPipe", "https://arxiv.org/abs/1811.06965")
KORTHIKANTI = ("Korthikanti et al. 2022, Reducing Activation Recomputation", "https://arxiv.org/abs/2205.05198")
MICIKEVICIUS = ("Micikevicius et al. 2018, Mixed Precision Training", "https://arxiv.org/abs/1710.03740")
LORA = ("Hu et al. 2021, LoRA", "https://arxiv.org/abs/2106.09685")
MAMBA = ("Gu & Dao 2023, Mamba", "https://arxiv.org/abs/2312.00752")
ZOOLOGY = ("Arora et al. 2023, Zoology (MQAR)", "https://arxiv.org/abs/2312.04927")
TRL = ("TRL SFTTrainer documentation", "https://huggingface.co/docs/trl/sft_trainer")

ENTRIES: tuple[Entry, ...] = (
    # ---------------------------------------------------------------- pre-training and scaling
    Entry("token", (), None,
          "The unit a language model reads and predicts: a word, a piece of a word or a character, each "
          "an integer id in the model's vocabulary."),
    Entry("next-token prediction", ("next-token", "next token prediction"), None,
          "The pre-training task: given the tokens so far, give a probability to every possible next "
          "token; the loss is the cross-entropy with the token that actually came next."),
    Entry("cross-entropy", ("cross entropy",), None,
          "The next-token loss: minus the log of the probability the model gave the token that actually "
          "came next, averaged over tokens."),
    Entry("nats", ("nat", "nats per token", "nats/token"), None,
          "The unit of a loss computed with natural logarithms (1 nat ≈ 1.44 bits). A loss of L nats per "
          "token means the model gave the right next token probability e^−L on average (a geometric "
          "mean)."),
    Entry("held-out loss", ("held-out", "eval loss", "validation loss"), None,
          "Held-out text (or questions) is kept out of training, to measure what a model generalises "
          "to rather than what it memorised; the held-out loss is the next-token loss on it, the number "
          "scaling laws predict."),
    Entry("base model", ("base checkpoint",), None,
          "A model after pre-training only: it continues text in the style of its training data; it has "
          "not been taught to answer questions."),
    Entry("checkpoint", (), None,
          "A saved model: its weights, configuration and tokenizer at some point of training, which the "
          "apps load instead of training again."),
    Entry("FLOPs", ("FLOP", "6ND"), KAPLAN,
          "Floating-point operations: a count of arithmetic operations (not per second). Training a "
          "transformer costs about 6 FLOPs per parameter per token, so C ≈ 6·N·D."),
    Entry("FLOP/s", ("FLOPS", "TFLOPS", "TFLOP/s", "PFLOP/s"), None,
          "Floating-point operations per second: how fast hardware computes. A GPU's peak (in TFLOP/s, "
          "10^12 per second) assumes every unit busy all the time, which training never reaches."),
    Entry("PF-day", ("petaflop/s-day",), KAPLAN,
          "A petaFLOP/s sustained for one day: 10^15 × 86,400 ≈ 8.64·10^19 FLOPs, Kaplan et al.'s unit of"
          " compute."),
    Entry("scaling law", (), KAPLAN,
          "A fitted formula that predicts the held-out loss from model size N, data D or compute C (a "
          "power law plus a floor): fitted on small runs, used to plan big ones."),
    Entry("power law", (), None,
          "y = a·x^(−α): a straight line on log–log axes. Every doubling of x divides y by the same "
          "factor 2^α, so each doubling buys less in absolute terms."),
    Entry("non-embedding parameters", ("non-embedding",), KAPLAN,
          "The parameters outside the token and position embedding tables; Kaplan et al. fit their laws "
          "on these."),
    Entry("compute-optimal", ("compute optimal",), HOFFMANN,
          "For a fixed compute budget C, the model size and number of training tokens (N_opt, D_opt) that"
          " give the lowest loss."),
    Entry("N_opt", ("N_opt(C)",), HOFFMANN,
          "The compute-optimal number of parameters for a budget C: the model size with the lowest "
          "predicted loss when C ≈ 6·N·D is fixed."),
    Entry("D_opt", ("D_opt(C)",), HOFFMANN,
          "The compute-optimal number of training tokens for a budget C: D_opt = C / (6·N_opt)."),
    Entry("IsoFLOP", ("isoFLOP", "IsoFLOPs", "IsoFLOP curve", "IsoFLOP profile"), HOFFMANN,
          "An IsoFLOP curve: models of different sizes all trained with the same compute; their losses "
          "form a valley whose bottom is the best size for that budget (Chinchilla's Approach 2)."),
    Entry("Chinchilla", ("chinchilla", "Hoffmann et al.", "Hoffmann"), HOFFMANN,
          "Hoffmann et al.'s 70B model and scaling law: trained on 1.4T tokens with the compute of the "
          "280B Gopher, it beat Gopher. The law says to grow parameters and tokens about equally."),
    Entry("Chinchilla approaches",
          ("Approach 1", "Approach 2", "Approach 3", "Approaches 1–2", "Approaches 1-2", "Approaches 1 and 2"),
          HOFFMANN,
          "Hoffmann et al.'s three ways to find the compute-optimal split: Approach 1 reads the best runs"
          " off training curves, Approach 2 the bottoms of IsoFLOP valleys, Approach 3 fits L(N, D) = E +"
          " A/N^α + B/D^β to every run."),
    Entry("Kaplan", ("Kaplan et al.", "kaplan"), KAPLAN,
          "Kaplan et al. 2020, the first large study of LLM scaling laws: loss falls as power laws in N, "
          "D and C, and its allocation grows the model much faster than the data."),
    Entry("Besiroglu", ("Besiroglu et al.", "besiroglu"), BESIROGLU,
          "Besiroglu et al. 2024 refitted Chinchilla's Approach 3 on the data points read off the "
          "paper's figure and found different constants, which agree with Approaches 1 and 2."),
    Entry("long tail", ("long-tail",), None,
          "Most facts (like most words) are rare: a few are seen constantly, most only a handful of "
          "times. Models learn the common ones first; the rare tail is what bigger models and more data "
          "keep buying."),
    Entry("Zipf law", ("Zipf's law", "Zipf"), None,
          "The k-th most frequent item is about 1/k as frequent as the most frequent one: the shape of "
          "word frequencies, and of how often each person is mentioned in our corpus."),
    Entry("MFU", ("model FLOPs utilization",), PALM,
          "Model FLOPs utilization: the share of the GPUs' peak FLOP/s spent on the model's own "
          "arithmetic (about 6 FLOPs per parameter per token); communication, idle time and recomputation"
          " make it well below 100 %."),
    Entry("GPU-hour", ("GPU hour",), None,
          "One GPU busy for one hour: the unit cloud prices and training budgets are counted in."),
    # ---------------------------------------------------------------- fine-tuning
    Entry("SFT", ("supervised fine-tuning", "fine-tuning", "fine-tuned", "fine-tune"), None,
          "Supervised fine-tuning: continue training a pre-trained model with the same next-token loss on"
          " example conversations, so it learns to answer questions instead of continuing text."),
    Entry("generative search engine", (), None,
          "The course's name for what SFT makes of a pre-trained model: ask a question, get an answer "
          "written from what the model read in pre-training, not looked up at answer time."),
    Entry("LoRA", ("low-rank adaptation",), LORA,
          "Low-rank adaptation: the pre-trained weights stay frozen and each adapted matrix W learns a "
          "small update B·A of low rank r, so fine-tuning trains and stores a tiny fraction of the "
          "parameters."),
    Entry("LoRA rank", ("LoRA r", "rank r"), LORA,
          "r, the inner size of LoRA's update B·A: a d×d matrix gets 2·d·r trainable numbers instead of "
          "d²."),
    Entry("adapter", (), None,
          "The small set of weights fine-tuning trains on top of a frozen base model (here LoRA's "
          "matrices), saved and loaded separately from the base."),
    Entry("DPO", ("Direct Preference Optimization",), ("Rafailov et al. 2023, Direct Preference Optimization", "https://arxiv.org/abs/2305.18290"),
          "Preference tuning without a reward model: on pairs of a chosen and a rejected reply, raise the "
          "chosen reply's probability relative to a frozen reference model more than the rejected one's."),
    Entry("RLHF", ("reinforcement learning from human feedback",), ("Ouyang et al. 2022, InstructGPT", "https://arxiv.org/abs/2203.02155"),
          "Reinforcement learning from human feedback: train a reward model on people's comparisons of "
          "replies, then tune the model to earn high reward while staying close to the SFT model."),
    Entry("preference pair", ("preference pairs",), None,
          "One prompt with two replies, one marked chosen (preferred) and one rejected: the data of "
          "preference tuning such as DPO or RLHF's reward model."),
    Entry("KL divergence", ("KL",), None,
          "How far one probability distribution is from another (0 when equal), here per token in nats: "
          "how much the tuned model's next-token choices have moved from the starting model's."),
    Entry("chat template", (), None,
          "The fixed text format that turns a conversation into one token sequence (role markers, an end-"
          "of-turn token), the same in training and in generation."),
    Entry("assistant-only loss", ("assistant-only",), TRL,
          "In SFT, the loss counts only the assistant's tokens (the answer), not the question or the chat"
          " markup, so the model learns to answer rather than to ask."),
    Entry("LIMA", (), ('Zhou et al. 2023, LIMA', 'https://arxiv.org/abs/2305.11206'),
          "Zhou et al. 2023: 1,000 carefully chosen examples were enough to fine-tune a strong assistant;"
          " SFT teaches format and style, the knowledge comes from pre-training."),
    Entry("greedy decoding", ("greedy", "greedily"), None,
          "Always pick the most probable next token (temperature 0): the same prompt always gives the "
          "same output."),
    Entry("temperature", (), None,
          "Divides the model's scores before they become probabilities when sampling: below 1 favours the"
          " likeliest tokens, above 1 spreads the choice; 0 means greedy decoding."),
    Entry("top-k", (), None,
          "Sample only among the k most probable next tokens."),
    Entry("logit", (), None,
          "The model's raw score for a vocabulary token before the softmax turns the scores into "
          "probabilities."),
    Entry("activations", ("activation memory",), KORTHIKANTI,
          "The intermediate outputs of every layer, kept from the forward pass because the backward pass "
          "needs them; they grow with batch size and sequence length."),
    Entry("optimizer state", ("optimizer states", "Adam m, v"), None,
          "What the optimizer keeps per parameter besides the weight: for Adam two running averages (m, "
          "v) in fp32, plus an fp32 master copy of the weights in mixed precision."),
    Entry("Adam", ("AdamW",), ('Kingma & Ba 2015, Adam', 'https://arxiv.org/abs/1412.6980'),
          "The optimizer nearly every LLM is trained with (AdamW): each parameter's step is scaled by "
          "running averages of its gradient and squared gradient, which it stores as optimizer state."),
    Entry("micro-batch", ("micro batch", "microbatch"), None,
          "A slice of the batch that goes through one forward and backward pass; several micro-batches "
          "make one step (their gradients add up), and in a pipeline they flow through the stages one "
          "after another."),
    Entry("rank", (), None,
          "One process of a distributed job, usually driving one GPU; ranks are numbered 0, 1, 2, … and "
          "exchange tensors through collective operations."),
    Entry("model parallelism", ("model-parallel",), None,
          "Any split of one model across devices. Its two kinds: tensor parallelism (each layer split "
          "across GPUs) and pipeline parallelism (different layers on different GPUs)."),
    Entry("data parallelism", ("DP", "data parallel", "data-parallel"), None,
          "Every GPU holds a full copy of the model and processes a different slice of the batch; after "
          "the backward pass the gradients are averaged with an all-reduce, so the copies stay identical."),
    Entry("DDP", ("DistributedDataParallel",), None,
          "DistributedDataParallel, PyTorch's data parallelism: one process per GPU, gradients averaged "
          "with an all-reduce that overlaps the backward pass."),
    Entry("ZeRO", ("Zero Redundancy Optimizer",), ZERO,
          "Zero Redundancy Optimizer: instead of every data-parallel GPU keeping a full copy, split "
          "(shard) the optimizer state across them (stage 1), then also the gradients (stage 2) and the "
          "parameters (stage 3); less memory for more communication."),
    Entry("FSDP", ("FSDP2", "fully sharded data parallel"),
          ('Zhao et al. 2023, PyTorch FSDP', 'https://arxiv.org/abs/2304.11277'),
          "Fully Sharded Data Parallel, PyTorch's ZeRO stage 3: parameters, gradients and optimizer state"
          " are sharded across the GPUs, and each layer's parameters are gathered just before it runs."),
    Entry("offloading", ("offloaded", "offload"),
          ('Ren et al. 2021, ZeRO-Offload', 'https://arxiv.org/abs/2101.06840'),
          "Keeping some training state (here the optimizer's) in CPU memory and computing its update "
          "there, to free GPU memory at the cost of transfers."),
    Entry("all-reduce", ("allreduce", "all reduce"), None,
          "A collective operation: every GPU contributes a tensor and every GPU receives the sum (or "
          "mean). The ring version sends about twice the tensor's size per GPU, however many GPUs there "
          "are."),
    Entry("tensor parallelism", ("TP", "tensor parallel", "tensor-parallel"), MEGATRON,
          "Splitting each layer's weight matrices across GPUs (Megatron's MLP: the first matrix by "
          "columns, the second by rows), so every GPU holds a slice of every layer; partial results are "
          "combined with all-reduces in every layer."),
    Entry("sequence parallelism", ("SP", "sequence parallel", "sequence-parallel"), KORTHIKANTI,
          "Used with tensor parallelism: the parts of a layer it does not split (layer norm, dropout) are"
          " split along the sequence instead, so their activations are not repeated on every GPU."),
    Entry("Megatron", ("Megatron-LM", "Megatron-style"), MEGATRON,
          "Megatron-LM, NVIDIA's training code, and the tensor-parallel layout it introduced for "
          "transformer layers."),
    Entry("pipeline parallelism", ("PP", "pipeline parallel", "pipeline-parallel"), GPIPE,
          "Splitting the model by layers: each GPU (a stage) runs a block of consecutive layers and "
          "passes its activations to the next, with micro-batches flowing through like an assembly line."),
    Entry("bubble", ("pipeline bubble",), NARAYANAN,
          "The idle time in pipeline parallelism while stages wait for the first micro-batches to arrive "
          "or the last ones to drain; more micro-batches per step shrink it."),
    Entry("GPipe", ("gpipe",), GPIPE,
          "A pipeline schedule: every micro-batch goes forward through all stages, then every one goes "
          "backward; simple, but each stage holds the activations of all micro-batches."),
    Entry("1F1B", ("1f1b",), NARAYANAN,
          "One forward, one backward: a pipeline schedule in which, after a warm-up, each stage "
          "alternates one micro-batch forward and one backward, so it holds activations of at most as "
          "many micro-batches as there are stages."),
    Entry("interleaved schedule", ("interleaved",), NARAYANAN,
          "1F1B with each GPU holding several non-adjacent chunks of layers (v chunks): the bubble "
          "shrinks v times, at the cost of more communication."),
    Entry("activation recomputation",
          ("activation recompute", "recompute", "recomputation", "activation checkpointing", "gradient checkpointing"),
          KORTHIKANTI,
          "Keep only some activations in the forward pass and recompute the others during the backward "
          "pass: much less memory for some extra compute ('selective' recomputes only the attention's "
          "large, cheap parts)."),
    Entry("NVLink", (), None,
          "NVIDIA's direct GPU-to-GPU link inside one server, many times faster than the network between "
          "servers; tensor parallelism usually stays inside it."),
    Entry("KV heads", ("grouped-query attention", "GQA"),
          ('Ainslie et al. 2023, GQA', 'https://arxiv.org/abs/2305.13245'),
          "The number of key/value heads of attention; with grouped-query attention several query heads "
          "share one, which shrinks the KV cache."),
    Entry("SwiGLU", (),
          ('Shazeer 2020, GLU Variants Improve Transformer', 'https://arxiv.org/abs/2002.05202'),
          "The gated MLP of Llama-style models: three weight matrices instead of two, one of them gating "
          "the other through a Swish activation."),
    Entry("tied embeddings", ("tied embedding",), None,
          "The input embedding table and the output layer share one matrix, saving vocabulary × width "
          "parameters."),
    # ---------------------------------------------------------------- stability and precision
    Entry("mixed precision", ("mixed-precision",), MICIKEVICIUS,
          "Compute in 16-bit floats (fp16 or bf16) while keeping a 32-bit master copy of the weights for "
          "the update: faster and smaller, with fp32's accuracy where it matters."),
    Entry("fp32", ("float32",), None,
          "32-bit floating point (single precision): the default for weights and optimizer state."),
    Entry("fp16", ("float16",), MICIKEVICIUS,
          "16-bit floating point (half precision) with 5 exponent bits: its largest value is 65,504, so "
          "big values overflow and tiny gradients underflow to zero without loss scaling."),
    Entry("bf16", ("bfloat16",), None,
          "bfloat16: a 16-bit float with fp32's 8 exponent bits, so the same range as fp32 with fewer "
          "digits; it needs no loss scaling."),
    Entry("loss scaling", ("loss scale", "GradScaler"), MICIKEVICIUS,
          "Multiply the loss by a large factor before the backward pass so small fp16 gradients do not "
          "underflow, and divide it out before the update; PyTorch's GradScaler adjusts the factor and "
          "skips steps whose gradients overflow."),
    Entry("gradient clipping", ("clipping", "clip norm", "gradient-norm clipping"), None,
          "If the gradient's overall norm exceeds a threshold, scale it down to the threshold before the "
          "update, so one bad batch cannot throw the weights far away."),
    Entry("warmup", ("warm-up", "learning-rate warmup", "lr warmup"), None,
          "Start training with a tiny learning rate and raise it over the first steps, while the "
          "optimizer's running averages are still unreliable."),
    Entry("warmup-stable-decay", ("WSD",), ("Hu et al. 2024, MiniCPM", "https://arxiv.org/abs/2404.06395"),
          "A learning-rate schedule that holds the peak rate for most of training and decays it only over "
          "the last stretch (here the last 20 % of the steps), so a run can be extended without restarting."),
    Entry("cosine decay", ("cosine schedule",), None,
          "Lowering the learning rate along half a cosine, from the peak after warmup to a floor (here a "
          "tenth of the peak) at the last step."),
    Entry("NaN", ("NaNs",), None,
          "Not a Number: what a float becomes after an invalid operation such as inf − inf; once it "
          "reaches the weights it spreads through every later step and the run is lost."),
    Entry("loss spike", ("loss spikes", "diverged", "divergence"), None,
          "A sudden jump of the training loss; a large one can leave the run diverged (loss stuck high or"
          " NaN) unless the step is skipped or the run rolled back."),
    # ---------------------------------------------------------------- inference
    Entry("quantization", ("quantisation", "quantized", "quantised", "int8 quantization"), None,
          "Storing weights (and sometimes activations) in fewer bits, e.g. 8-bit integers with a scale "
          "factor, to cut memory and speed up inference at a small cost in accuracy."),
    Entry("int8", ("INT8",), None,
          "8-bit integers: one byte per value, a quarter of fp32; quantized weights are stored this way "
          "with a scale per row or tensor."),
    Entry("int4", ("INT4", "4-bit"), ("Frantar et al. 2022, GPTQ", "https://arxiv.org/abs/2210.17323"),
          "4-bit integers, two per byte, an eighth of fp32; 4-bit weights are stored with a scale and a "
          "zero point per small group of weights (e.g. 32), not per row."),
    Entry("zero point", ("zero-point",), None,
          "In asymmetric quantization, the integer code that stands for 0.0: a weight is rebuilt as "
          "(code − zero point) × scale, so a group whose values are not centred on 0 uses all 16 codes."),
    Entry("distillation", ("knowledge distillation", "distilled", "distil", "distill"),
          ('Hinton et al. 2015, Distilling the Knowledge in a Neural Network', 'https://arxiv.org/abs/1503.02531'),
          "Train a small student model to match a large teacher model's output probabilities (not just "
          "the right token), keeping much of its quality at a fraction of the cost."),
    Entry("pruning", ("pruned", "prune"), None,
          "Removing the weights (or heads, channels, layers) that matter least, so the smaller or sparser"
          " model is cheaper to run."),
    Entry("KV cache", ("KV-cache", "key-value cache", "KV caching", "kv cache"), None,
          "While generating, a transformer keeps every earlier token's attention keys and values so each "
          "new token computes only its own; the cache grows with the context: 2 × layers × KV heads × "
          "head size × tokens × bytes."),
    # ---------------------------------------------------------------- architectures
    Entry("RNN", ("recurrent neural network", "recurrent model"), None,
          "Recurrent neural network: reads a sequence one token at a time, updating a hidden state from "
          "the previous state and the new token; that state is all it remembers."),
    Entry("LSTM", ("long short-term memory",),
          ('Hochreiter & Schmidhuber 1997, Long Short-Term Memory', 'https://doi.org/10.1162/neco.1997.9.8.1735'),
          "Long short-term memory: an RNN whose gates decide at each step what to keep, forget and "
          "output, which lets gradients survive more steps than in a plain RNN."),
    Entry("SSM", ("state-space model", "state space model", "state-space"),
          ('Gu et al. 2022, S4', 'https://arxiv.org/abs/2111.00396'),
          "State-space model: a sequence layer that updates a fixed-size state with a linear recurrence "
          "(h_t = A·h_{t−1} + B·x_t, y_t = C·h_t); being linear, it can also be computed in parallel over"
          " time."),
    Entry("Mamba", ("mamba",), MAMBA,
          "An SSM whose A, B, C depend on the current input (selective), so it can choose what to keep in"
          " its state; it trains in parallel with a scan and generates at a constant cost per token."),
    Entry("recurrent state", ("hidden state", "SSM state", "state size", "fixed-size state", "fixed state"), None,
          "The fixed-size memory an RNN or SSM carries from token to token; unlike a KV cache it does not"
          " grow with the context, so whatever does not fit is lost."),
    Entry("LTI", ("linear time-invariant", "time-invariant"), None,
          "Linear time-invariant: a recurrence whose A, B, C are the same at every step (as in S4), so "
          "the whole sequence map is one long convolution; Mamba's selective recurrence is not LTI."),
    Entry("parallel scan", (), MAMBA,
          "Computing a linear recurrence over T steps in about log T rounds by combining steps pairwise, "
          "instead of T rounds one after another."),
    Entry("selective copy", ("selective copying", "selective-copy"), MAMBA,
          "A synthetic task: a few tokens scattered among noise must be repeated in order at the end, so "
          "the model must choose what to remember."),
    Entry("induction head", ("induction heads",),
          ('Olsson et al. 2022, In-context Learning and Induction Heads', 'https://transformer-circuits.pub/2022/in-context-learning-and-induction-heads/index.html'),
          "An attention pattern that finds an earlier occurrence of the current token and copies what "
          "followed it (… A B … A → B), the basis of copying from context."),
    Entry("MQAR", ("mqar", "associative recall"), ZOOLOGY,
          "Multi-query associative recall: the context lists key–value pairs, then asks for the values of"
          " several keys; a model must have kept every pair to answer."),
)
# fmt: on
