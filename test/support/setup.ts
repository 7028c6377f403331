import 'reflect-metadata';
import { installLeakCheck } from './leak-check.js';

installLeakCheck();
