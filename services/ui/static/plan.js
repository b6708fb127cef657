// A short workout plan run in the page: exercise, reps (seconds for a hold) and sets, one step after another.
// It tells the trainer which exercise to count (the frames carry it) and moves on when a set is done.
"use strict";

FT.Plan = (() => {
  const KEY = "ft-plan";

  class Plan {
    constructor(holds) {
      this.holds = new Set(holds || []);
      this.steps = [];
      this.active = false;
      this.index = 0;
      this.set = 1;
      this.baseline = null;
      try { this.steps = JSON.parse(localStorage.getItem(KEY) || "[]").filter((s) => s && s.exercise); } catch (e) {}
    }
    save() { localStorage.setItem(KEY, JSON.stringify(this.steps)); }
    get step() { return this.active ? this.steps[this.index] : null; }
    get exercise() { return this.step ? this.step.exercise : ""; }

    begin() {
      this.steps = this.steps.filter((s) => s.exercise && s.reps > 0 && s.sets > 0);
      this.save();
      this.active = this.steps.length > 0;
      this.index = 0;
      this.set = 1;
      this.baseline = null;
      return this.active;
    }
    end() { this.active = false; this.baseline = null; }

    amount(v, exercise) {
      return this.holds.has(exercise) ? Number((v.hold_seconds || {})[exercise] || 0)
                                      : Number((v.reps || {})[exercise] || 0);
    }

    // A coach view arrived: returns what happened ("set" done, "step" moved on, "done" all) or "".
    observe(v) {
      const step = this.step;
      if (!step || !v) return "";
      const total = this.amount(v, step.exercise);
      if (this.baseline === null) this.baseline = total;
      this.progress = total - this.baseline;
      if (this.progress < step.reps) return "";
      this.baseline = total;
      this.progress = 0;
      if (this.set < step.sets) { this.set += 1; return "set"; }
      this.set = 1;
      this.baseline = null;
      if (this.index + 1 < this.steps.length) { this.index += 1; return "step"; }
      this.active = false;
      return "done";
    }

    label(nameOf) {
      const step = this.step;
      if (!step) return "";
      const unit = this.holds.has(step.exercise) ? "s" : "";
      return `Plan: ${nameOf(step.exercise)} · set ${this.set} of ${step.sets} · ${Math.floor(this.progress || 0)}${unit} / ${step.reps}${unit}`;
    }
  }

  return Plan;
})();
