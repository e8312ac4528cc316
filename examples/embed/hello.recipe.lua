-- hello.recipe.lua — the smallest recipe: one step in a sandbox built from the default policy.
-- Run it with `moonjail recipe hello.recipe.lua` or through the embedding example
-- `recipe_host hello.recipe.lua`.  `output` is the only host directory the recipe may write;
-- like every relative path in a recipe it resolves against this file's directory.
return {
  name = "hello",
  policy = "default",
  output = "out",
  steps = {
    { name = "greet", run = { "sh", "-c", "echo hello from a recipe" } },
  },
}
