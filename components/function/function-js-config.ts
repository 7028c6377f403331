import { IsNotEmpty, IsString, Matches } from 'class-validator';
import { Describe } from 'kindling';

/** Data of a `function.js` entry: an ES module file and the export to call. */
@Describe('A function: an ES module file and the export to call.')
export class FunctionJsConfig {
  @Describe(
    "The module file, relative to the YAML file that declares the entry. Only a regular file inside the app root (or a directory the manifest's `allow.paths` opts in), of at most `allow.moduleBytes`, is read; a dry run reads its exports without running it.",
  )
  @IsString()
  @IsNotEmpty()
  file!: string;

  @Describe('The export to call (default `default`).')
  @IsString()
  @Matches(/^[A-Za-z_$][\w$]*$/, { message: 'export must be the name of an export, such as "handler" or "default"' })
  export = 'default';
}
